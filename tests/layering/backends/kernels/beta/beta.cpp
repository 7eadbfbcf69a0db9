#include "../backend.h"
#include "beta.h"
#include "beta_impl.h"
