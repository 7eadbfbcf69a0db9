// A probe that reaches up into kernels/: the layering check must refuse it.
#include "gemm.h"
