// Reaches into another backend: the layering check must refuse it.
#include "../backend.h"
#include "alpha_impl.h"
#include "../beta/beta_impl.h"
