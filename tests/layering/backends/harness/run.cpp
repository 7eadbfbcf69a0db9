// A public header is fine; a backend's internal one is not.
#include "kernels/beta/beta.h"
#include "kernels/alpha/alpha_impl.h"
