#pragma once

#include <memory>

#include "../backend.h"

namespace tb {

std::unique_ptr<Backend> make_opencl_backend();

}  // namespace tb
