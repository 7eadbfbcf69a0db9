// Reaches into another backend: the layering check must refuse it.
#include "../backend.h"
#include "../beta/beta_impl.h"
#include "alpha_impl.h"
