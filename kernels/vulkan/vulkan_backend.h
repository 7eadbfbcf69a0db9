#pragma once

#include <memory>

#include "../backend.h"

namespace tb {

std::unique_ptr<Backend> make_vulkan_backend();
const BackendTraits& vulkan_backend_traits();

}  // namespace tb
