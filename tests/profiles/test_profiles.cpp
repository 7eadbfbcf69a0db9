#include <gtest/gtest.h>
#include "profiles.h"
TEST(Profiles, Placeholder) {}
