// Public header of the probes library.
#pragma once

#include "cpu_features.h"
