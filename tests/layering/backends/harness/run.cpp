// A public header is fine; a backend's internal one is not.
#include "kernels/alpha/alpha_impl.h"
#include "kernels/beta/beta.h"
