#include "safetensors.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>

#include <nlohmann/json.hpp>

namespace tb::workloads {

namespace {

// Names the file, line and call of a failed system call.
#define TB_SYS_ERROR(call, what)                                                                  \
  make_error(std::string(__FILE__) + ":" + std::to_string(__LINE__) + ": " + call + ": " + what + \
             ": " + std::strerror(errno))

constexpr std::uint64_t kMaxHeader = 100u << 20;  // the format's own limit is 100 MB

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

Result<void> pread_all(int fd, std::byte* dst, std::uint64_t n, std::uint64_t off) {
  while (n > 0) {
    const ssize_t r = ::pread(fd, dst, n, static_cast<off_t>(off));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return TB_SYS_ERROR("pread", "read failed");
    if (r == 0) return make_error("safetensors: unexpected end of file");
    dst += r, n -= static_cast<std::uint64_t>(r), off += static_cast<std::uint64_t>(r);
  }
  return {};
}

Result<void> write_all(int fd, const std::byte* src, std::size_t n) {
  while (n > 0) {
    const ssize_t r = ::write(fd, src, n);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return TB_SYS_ERROR("write", "write failed");
    src += r, n -= static_cast<std::size_t>(r);
  }
  return {};
}

std::optional<DType> parse_st_dtype(const std::string& s) {
  if (s == "F32") return DType::f32;
  if (s == "BF16") return DType::bf16;
  if (s == "F16") return DType::f16;
  if (s == "I8") return DType::s8;
  if (s == "U8") return DType::u8;
  if (s == "I32") return DType::s32;
  return std::nullopt;
}

}  // namespace

const StTensor* StHeader::find(const std::string& name) const {
  for (const auto& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

std::string_view st_dtype_name(DType dt) {
  switch (dt) {
    case DType::f32:
      return "F32";
    case DType::bf16:
      return "BF16";
    case DType::f16:
      return "F16";
    case DType::s8:
      return "I8";
    case DType::u8:
      return "U8";
    case DType::s32:
      return "I32";
  }
  return "?";
}

Result<void> write_safetensors(const std::string& path, const std::vector<StSpec>& specs,
                               const std::map<std::string, std::string>& metadata,
                               const std::function<void(std::size_t, std::span<std::byte>)>& fill) {
  nlohmann::json h = nlohmann::json::object();
  std::uint64_t off = 0;
  std::vector<std::uint64_t> sizes;
  for (const auto& s : specs) {
    std::uint64_t n = dtype_size(s.dtype);
    for (auto d : s.shape) n *= static_cast<std::uint64_t>(d);
    h[s.name] = {
        {"dtype", st_dtype_name(s.dtype)}, {"shape", s.shape}, {"data_offsets", {off, off + n}}};
    sizes.push_back(n);
    off += n;
  }
  if (!metadata.empty()) h["__metadata__"] = metadata;
  std::string text = h.dump();
  while ((8 + text.size()) % 8) text += ' ';  // align the data section, as the format suggests

  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  const std::string tmp = path + ".tmp" + std::to_string(::getpid());
  Fd f;
  f.fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (f.fd < 0) return TB_SYS_ERROR("open", tmp);
  std::byte len[8];
  for (int i = 0; i < 8; ++i) len[i] = static_cast<std::byte>((text.size() >> (8 * i)) & 0xff);
  if (auto r = write_all(f.fd, len, 8); !r) return r;
  if (auto r = write_all(f.fd, reinterpret_cast<const std::byte*>(text.data()), text.size()); !r)
    return r;
  std::vector<std::byte> buf;
  for (std::size_t i = 0; i < specs.size(); ++i) {
    buf.resize(sizes[i]);
    fill(i, buf);
    if (auto r = write_all(f.fd, buf.data(), buf.size()); !r) return r;
  }
  if (::fsync(f.fd) != 0) return TB_SYS_ERROR("fsync", tmp);
  ::close(f.fd);
  f.fd = -1;
  if (::rename(tmp.c_str(), path.c_str()) != 0) return TB_SYS_ERROR("rename", path);
  return {};
}

Result<StHeader> read_safetensors_header(const std::string& path) {
  Fd f;
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd < 0) return TB_SYS_ERROR("open", path);
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) return TB_SYS_ERROR("fstat", path);
  const auto file_size = static_cast<std::uint64_t>(st.st_size);
  const std::string where = "safetensors " + path + ": ";
  if (file_size < 8) return make_error(where + "file too short for the header length");
  std::byte len[8];
  if (auto r = pread_all(f.fd, len, 8, 0); !r) return make_error(where + r.error().message);
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= static_cast<std::uint64_t>(len[i]) << (8 * i);
  if (n > kMaxHeader || n > file_size - 8)
    return make_error(where + "header length " + std::to_string(n) + " exceeds the file (" +
                      std::to_string(file_size) + " bytes)");
  std::string text(n, '\0');
  if (auto r = pread_all(f.fd, reinterpret_cast<std::byte*>(text.data()), n, 8); !r)
    return make_error(where + r.error().message);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const std::exception& e) {
    return make_error(where + "header is not JSON: " + e.what());
  }
  if (!j.is_object()) return make_error(where + "header is not a JSON object");
  StHeader h;
  h.data_start = 8 + n;
  const std::uint64_t data_size = file_size - h.data_start;
  for (const auto& [name, v] : j.items()) {
    if (name == "__metadata__") {
      if (!v.is_object()) return make_error(where + "__metadata__ is not an object");
      for (const auto& [k, m] : v.items())
        if (m.is_string()) h.metadata[k] = m.get<std::string>();
      continue;
    }
    const std::string tw = where + "tensor '" + name + "': ";
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") ||
        !v.contains("data_offsets"))
      return make_error(tw + "needs dtype, shape and data_offsets");
    if (!v["dtype"].is_string()) return make_error(tw + "dtype is not a string");
    const auto dt = parse_st_dtype(v["dtype"].get<std::string>());
    if (!dt) return make_error(tw + "unsupported dtype " + v["dtype"].get<std::string>());
    StTensor t;
    t.name = name;
    t.dtype = *dt;
    if (!v["shape"].is_array()) return make_error(tw + "shape is not an array");
    // The byte count must not wrap: a wrapped product could match a short data span.
    std::uint64_t bytes = dtype_size(t.dtype);
    for (const auto& d : v["shape"]) {
      if (!d.is_number_integer() || d.get<std::int64_t>() < 0)
        return make_error(tw + "shape holds a non-integer or negative dimension");
      t.shape.push_back(d.get<std::int64_t>());
      if (__builtin_mul_overflow(bytes, static_cast<std::uint64_t>(t.shape.back()), &bytes))
        return make_error(tw + "shape's size overflows 64 bits");
    }
    const auto& o = v["data_offsets"];
    if (!o.is_array() || o.size() != 2 || !o[0].is_number_unsigned() || !o[1].is_number_unsigned())
      return make_error(tw + "data_offsets is not [begin, end]");
    t.begin = o[0].get<std::uint64_t>();
    t.end = o[1].get<std::uint64_t>();
    if (t.end < t.begin || t.end > data_size)
      return make_error(tw + "data_offsets [" + std::to_string(t.begin) + ", " +
                        std::to_string(t.end) + "] lie outside the data (" +
                        std::to_string(data_size) + " bytes; truncated file?)");
    if (t.end - t.begin != bytes)
      return make_error(tw + "data_offsets span " + std::to_string(t.end - t.begin) +
                        " bytes, shape and dtype need " + std::to_string(bytes));
    h.tensors.push_back(std::move(t));
  }
  return h;
}

Result<std::vector<Tensor>> read_safetensors(const std::string& path, const StHeader& h,
                                             const std::vector<std::string>& names, bool cold) {
  Fd f;
  f.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (f.fd < 0) return TB_SYS_ERROR("open", path);
  if (cold) {
    // Dirty pages cannot be dropped: write them back first, then evict the file's pages.
    if (::fdatasync(f.fd) != 0 && errno != EINVAL && errno != EROFS)
      return TB_SYS_ERROR("fdatasync", path);
    if (const int e = ::posix_fadvise(f.fd, 0, 0, POSIX_FADV_DONTNEED); e != 0) {
      errno = e;
      return TB_SYS_ERROR("posix_fadvise", path);
    }
  }
  std::vector<Tensor> out;
  out.reserve(names.size());
  for (const auto& name : names) {
    const StTensor* t = h.find(name);
    if (!t) return make_error("safetensors " + path + ": no tensor '" + name + "'");
    Tensor x(t->dtype, t->shape);
    if (auto r = pread_all(f.fd, x.raw(), t->end - t->begin, h.data_start + t->begin); !r)
      return make_error("safetensors " + path + ": tensor '" + name + "': " + r.error().message);
    out.push_back(std::move(x));
  }
  return out;
}

}  // namespace tb::workloads
