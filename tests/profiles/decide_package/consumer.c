/* A C scheduler: reads a request file, asks tierbench where to run it, prints the response. */
#include <stdio.h>
#include <stdlib.h>
#include <tierbench_decide.h>

int main(int argc, char** argv) {
  if (argc != 2 || tb_decide_abi_version() != TB_DECIDE_ABI_VERSION) return 10;
  FILE* f = fopen(argv[1], "rb");
  if (!f) return 11;
  static char request[1 << 20];
  const size_t n = fread(request, 1, sizeof request - 1, f);
  fclose(f);
  request[n] = '\0';
  char* response = NULL;
  const int rc = tb_decide(request, NULL, &response);
  if (response) puts(response);
  tb_decide_free(response);
  return rc;
}
