# Sanitizer settings for running the debug preset's tests (sourced by scripts/test.sh; the
# debug test preset sets the same). Suppressions are narrow and each says why: see README.md.
_tb_san="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1:strict_string_checks=1:suppressions=$_tb_san/asan.supp"
export LSAN_OPTIONS="suppressions=$_tb_san/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:suppressions=$_tb_san/ubsan.supp"
unset _tb_san
