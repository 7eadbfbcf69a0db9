#pragma once

#include <memory>

#include "../backend.h"

namespace tb {

std::unique_ptr<Backend> make_opencl_backend();
const BackendTraits& opencl_backend_traits();

}  // namespace tb
