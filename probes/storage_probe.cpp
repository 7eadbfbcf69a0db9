// Storage section: sequential read throughput of a temporary file, cold (page cache evicted with
// posix_fadvise(DONTNEED) after fsync, eviction checked with mincore) and warm; plus the
// throughput of writing it (write + fsync). The file is unlinked as soon as it is created.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "measure.h"
#include "probe_sections.h"

// Wraps a POSIX call: on failure, returns the section's unavailable object naming the call,
// the file and line, and errno.
#define TB_POSIX_CHECK(call)                                                      \
  do {                                                                            \
    if ((call) < 0) {                                                             \
      return unavailable(std::string(#call) + " failed at " + __FILE__ + ":" +    \
                         std::to_string(__LINE__) + ": " + std::strerror(errno)); \
    }                                                                             \
  } while (0)

namespace tb::probe {

namespace {

constexpr std::size_t kBlock = std::size_t{1} << 20;  // read/write block: 1 MiB

std::string fs_name(long magic) {
  switch (static_cast<unsigned long>(magic)) {
    case 0xEF53:
      return "ext4";  // ext2/3/4 share the magic
    case 0x58465342:
      return "xfs";
    case 0x9123683E:
      return "btrfs";
    case 0x01021994:
      return "tmpfs";
    case 0x794C7630:
      return "overlayfs";
    case 0x6969:
      return "nfs";
    case 0x2FC12FC1:
      return "zfs";
    case 0xF2F52010:
      return "f2fs";
    case 0x65735546:
      return "fuse";
    case 0x858458F6:
      return "ramfs";
    default:
      return "unknown";
  }
}

// Owns a file descriptor.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

nlohmann::json unavailable(const std::string& reason) {
  return {{"available", false}, {"reason", reason}};
}

// Fraction of the file's pages resident in the page cache (mincore over a read-only mapping),
// or -1 when it cannot be told.
double resident_fraction(int fd, std::size_t bytes) {
  void* map = mmap(nullptr, bytes, PROT_READ, MAP_SHARED, fd, 0);
  if (map == MAP_FAILED) return -1;
  const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  const std::size_t pages = (bytes + page - 1) / page;
  std::vector<unsigned char> vec(pages);
  double frac = -1;
  if (mincore(map, bytes, vec.data()) == 0) {
    std::size_t resident = 0;
    for (unsigned char v : vec) resident += v & 1u;
    frac = static_cast<double>(resident) / static_cast<double>(pages);
  }
  munmap(map, bytes);
  return frac;
}

// Reads the whole file sequentially; returns bytes read, -1 on error.
long long read_all(int fd, char* buf) {
  if (lseek(fd, 0, SEEK_SET) < 0) return -1;
  long long total = 0;
  for (;;) {
    const ssize_t r = read(fd, buf, kBlock);
    if (r < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (r == 0) return total;
    total += r;
  }
}

std::string default_dir() {
  if (const char* t = std::getenv("TMPDIR"); t && *t) return t;
  if (access("/var/tmp", W_OK) == 0) return "/var/tmp";
  return "/tmp";
}

}  // namespace

nlohmann::json probe_storage(const StorageOptions& opts) {
  const std::size_t bytes = opts.file_bytes > 0
                                ? (opts.file_bytes + kBlock - 1) / kBlock * kBlock
                                : (opts.quick ? std::size_t{64} << 20 : std::size_t{256} << 20);
  const int trials = opts.trials > 0 ? opts.trials : opts.quick ? 3 : 5;
  const std::string dir = opts.dir.empty() ? default_dir() : opts.dir;

  struct statfs sfs {};
  TB_POSIX_CHECK(statfs(dir.c_str(), &sfs));
  struct statvfs svfs {};
  TB_POSIX_CHECK(statvfs(dir.c_str(), &svfs));
  const unsigned long long free_bytes =
      static_cast<unsigned long long>(svfs.f_bavail) * svfs.f_frsize;
  if (free_bytes < 2ull * bytes) {
    return unavailable("not enough free space in " + dir + ": " + std::to_string(free_bytes) +
                       " bytes free, " + std::to_string(2ull * bytes) + " wanted");
  }

  std::string path = dir + "/tb_probe_XXXXXX";
  std::vector<char> tmpl(path.begin(), path.end());
  tmpl.push_back('\0');
  const int raw_fd = mkstemp(tmpl.data());
  TB_POSIX_CHECK(raw_fd);
  Fd fd(raw_fd);
  unlink(tmpl.data());  // nothing is left behind, whatever happens next

  // Random contents (a compressing or deduplicating file system must not shrink the file).
  std::vector<char> block(kBlock);
  {
    std::mt19937_64 rng(0x5707a9e);
    for (std::size_t i = 0; i + 8 <= kBlock; i += 8) {
      const std::uint64_t v = rng();
      std::memcpy(block.data() + i, &v, 8);
    }
  }
  const double w0 = now_seconds();
  for (std::size_t off = 0; off < bytes; off += kBlock) {
    block[0] = static_cast<char>(off >> 20);  // every block distinct
    std::size_t done = 0;
    while (done < kBlock) {
      const ssize_t w = write(fd.get(), block.data() + done, kBlock - done);
      if (w < 0 && errno == EINTR) continue;
      TB_POSIX_CHECK(w);
      done += static_cast<std::size_t>(w);
    }
  }
  TB_POSIX_CHECK(fsync(fd.get()));
  const double write_s = now_seconds() - w0;

  std::vector<double> cold, warm, resident_after_evict;
  for (int t = 0; t < trials; ++t) {
    TB_POSIX_CHECK(fdatasync(fd.get()));
    const int rc = posix_fadvise(fd.get(), 0, 0, POSIX_FADV_DONTNEED);
    if (rc != 0) return unavailable(std::string("posix_fadvise(DONTNEED): ") + std::strerror(rc));
    resident_after_evict.push_back(resident_fraction(fd.get(), bytes));
    double t0 = now_seconds();
    long long got = read_all(fd.get(), block.data());
    TB_POSIX_CHECK(got);
    cold.push_back(static_cast<double>(got) / (now_seconds() - t0) * 1e-9);
    t0 = now_seconds();
    got = read_all(fd.get(), block.data());
    TB_POSIX_CHECK(got);
    warm.push_back(static_cast<double>(got) / (now_seconds() - t0) * 1e-9);
  }
  const double resident_warm = resident_fraction(fd.get(), bytes);

  double worst_resident = 0;
  bool known = true;
  for (double r : resident_after_evict) {
    if (r < 0) known = false;
    worst_resident = std::max(worst_resident, r);
  }
  const std::string fs = fs_name(static_cast<long>(sfs.f_type));
  nlohmann::json out = {
      {"available", true},
      {"dir", dir},
      {"filesystem", fs},
      {"file_bytes", bytes},
      {"block_bytes", kBlock},
      {"unit", "GB/s"},
      {"write_fsync", to_json(summarize({static_cast<double>(bytes) / write_s * 1e-9}))},
      {"cold_read", to_json(summarize(cold))},
      {"warm_read", to_json(summarize(warm))},
      {"cold_eviction_verified", known && worst_resident <= 0.01},
      {"resident_fraction_after_evict", known ? worst_resident : -1.0},
      {"resident_fraction_warm", resident_warm}};
  return out;
}

}  // namespace tb::probe
