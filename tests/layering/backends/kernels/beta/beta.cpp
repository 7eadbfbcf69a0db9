#include "beta.h"
#include "../backend.h"
#include "beta_impl.h"
