// A C++ scheduler: the same request through decide.h; prints the first placement.
#include <fstream>
#include <iostream>

#include <decide.h>

int main(int argc, char** argv) {
  if (argc != 2) return 10;
  std::ifstream f(argv[1]);
  const auto in = tb::decide::parse_request(nlohmann::json::parse(f));
  const auto d = tb::decide::decide(in);
  if (d.ranked.empty()) return 1;
  std::cout << "first: " << d.ranked[0].target << " " << d.ranked[0].workload << "\n";
  return 0;
}
