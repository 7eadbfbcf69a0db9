// DeviceKernel: launches and their timing, for every OpenCL kernel. OpKernel: buffers, transfers
// and timing shared by the OpenCL conv, attention, pool, row, binary, rope and embed kernels.
#include "opencl_op.h"

#include <algorithm>

#include "program_cache.h"

namespace tb::ocl {

std::string type_options(DType a, DType b, DType c) {
  const auto kind = [](DType t) {
    switch (t) {
      case DType::f32:
        return 0;
      case DType::f16:
        return 1;
      case DType::bf16:
        return 2;
      case DType::u8:
        return 3;
      case DType::s8:
        return 4;
      case DType::s32:
        return 5;
    }
    return 0;
  };
  return " -DTA_K=" + std::to_string(kind(a)) + " -DTB_K=" + std::to_string(kind(b)) +
         " -DTC_K=" + std::to_string(kind(c));
}

cl_int epilogue_code(const Epilogue& e) {
  return static_cast<cl_int>(activation_code(e.act)) | (e.bias ? 8 : 0) | (e.residual ? 16 : 0) |
         (e.scales ? 32 : 0);
}

Support check_sizes(const Problem& p, const DeviceCtx& d) {
  auto check = [&](const std::vector<TensorSpec>& specs) -> Support {
    for (const auto& s : specs) {
      std::int64_t n = 1;
      for (auto e : s.shape) {
        if (e <= 0) return Support::no("opencl: empty tensor " + s.name);
        n *= e;
        if (n >= (std::int64_t{1} << 31))
          return Support::no("opencl: tensor " + s.name + " too large for 32-bit indices");
      }
      if (static_cast<double>(n) * 4.0 * 1.1 > static_cast<double>(d.max_alloc_bytes))
        return Support::no("opencl: tensor " + s.name + " exceeds CL_DEVICE_MAX_MEM_ALLOC_SIZE");
    }
    return Support::yes();
  };
  if (auto s = check(p.inputs()); !s.supported) return s;
  return check(p.outputs());
}

Support supports_small_op(const Problem& p, const DeviceCtx& d, Support extra) {
  if (p.dtype != DType::f32)
    return Support::no("opencl: " + std::string(p.op_name()) + " is implemented for f32 only");
  if (p.post != Epilogue{})
    return Support::no("opencl: " + std::string(p.op_name()) + " takes no epilogue");
  if (!extra.supported) return extra;
  return check_sizes(p, d);
}

Support supports_copy_op(const Problem& p, const DeviceCtx& d, const char* what) {
  const std::string op(p.op_name());
  if (p.dtype != DType::f32 && p.dtype != DType::bf16 && p.dtype != DType::f16)
    return Support::no("opencl: " + op + " takes f32, f16 or bf16 " + what);
  if (p.post != Epilogue{}) return Support::no("opencl: " + op + " takes no epilogue");
  return check_sizes(p, d);
}

Result<void> SingleKernel::init_kernel(const char* source, const std::string& options,
                                       const char* name, bool common) {
  const std::string text = (common ? cl_source("gemm_common") : std::string()) + cl_source(source);
  if (auto r = init_program(text, options); !r) return r;
  auto k = make_kernel(name);
  if (!k) return k.error();
  k_ = std::move(k.value());
  return {};
}

Result<void> DeviceKernel::enqueue_refresh(std::size_t index, std::vector<Event>& events) {
  sink_ = &events;
  auto r = refresh(index);
  sink_ = nullptr;
  return r;
}

Result<void> DeviceKernel::enqueue_launches(std::vector<Event>& events) {
  sink_ = &events;
  auto r = enqueue();
  sink_ = nullptr;
  return r;
}

Result<void> DeviceKernel::launch(cl_kernel k, cl_uint dims, const std::size_t* gws,
                                  const std::size_t* lws) {
  for (cl_uint i = 0; i < dims; ++i)
    if (gws[i] == 0) return {};  // nothing to do (an empty range is an error in OpenCL)
  cl_event e = nullptr;
  TB_CL_CHECK(clEnqueueNDRangeKernel(d_->queue.get(), k, dims, nullptr, gws, lws, 0, nullptr, &e));
  if (sink_)
    sink_->emplace_back(e);
  else if (!first_)
    first_.reset(e);
  else
    last_.reset(e);
  return {};
}

void DeviceKernel::begin_timed() {
  first_.reset();
  last_.reset();
}

Result<double> DeviceKernel::end_timed() {
  TB_CL_CHECK(clFinish(d_->queue.get()));
  if (!first_) return 0.0;
  return event_seconds(first_.get(), last_ ? last_.get() : first_.get());
}

OpKernel::OpKernel(std::shared_ptr<DeviceCtx> d, Problem p, Buffers buffers)
    : DeviceKernel(std::move(d), buffers),
      p_(std::move(p)),
      in_specs_(p_.inputs()),
      out_specs_(p_.outputs()) {
  in_ptr_.assign(in_specs_.size(), nullptr);
  out_ptr_.assign(out_specs_.size(), nullptr);
}

Result<void> OpKernel::init_program(const std::string& source, const std::string& options) {
  if (source.empty()) return make_error("opencl: kernel source not found");
  auto built = build_program(d_->context.get(), d_->device, source, "-cl-std=CL1.2 " + options);
  if (!built) return built.error();
  program_ = std::move(built->program);
  build_s_ = built->build_s;
  cache_hit_ = built->cache_hit;
  if (graph_mode()) return {};  // the graph binds its buffers
  const auto own = [&](const std::vector<TensorSpec>& specs, std::vector<Mem>& mems,
                       std::vector<cl_mem>& ptrs) -> Result<void> {
    for (std::size_t i = 0; i < specs.size(); ++i) {
      std::size_t n = 1;
      for (auto e : specs[i].shape) n *= static_cast<std::size_t>(e);
      auto m = alloc(n * dtype_size(specs[i].dtype));
      if (!m) return m.error();
      ptrs[i] = m->get();
      mems.push_back(std::move(m.value()));
    }
    return {};
  };
  if (auto r = own(in_specs_, in_, in_ptr_); !r) return r;
  return own(out_specs_, out_, out_ptr_);
}

Result<Kernel> OpKernel::make_kernel(const char* name) {
  cl_int err = CL_SUCCESS;
  Kernel k(clCreateKernel(program_.get(), name, &err));
  if (err != CL_SUCCESS)
    return cl_error(__FILE__, __LINE__, ("clCreateKernel(" + std::string(name) + ")").c_str(), err);
  return k;
}

Result<Mem> OpKernel::alloc(std::size_t bytes) {
  cl_int err = CL_SUCCESS;
  Mem m(clCreateBuffer(d_->context.get(), CL_MEM_READ_WRITE, std::max<std::size_t>(bytes, 4),
                       nullptr, &err));
  TB_CL_CHECK_ERR(err, "clCreateBuffer");
  mem_.device_bytes += bytes;
  return m;
}

Result<void> OpKernel::bind(std::span<const cl_mem> ins, cl_mem out) {
  if (!graph_mode())
    return make_error("opencl " + std::string(p_.op_name()) + ": bind() needs a graph kernel");
  if (ins.size() != in_specs_.size() || out_specs_.size() != 1)
    return make_error("opencl " + std::string(p_.op_name()) + ": wrong operand count to bind");
  in_ptr_.assign(ins.begin(), ins.end());
  out_ptr_[0] = out;
  return {};
}

Result<void> OpKernel::upload_input(std::size_t index, const Tensor& t) {
  if (graph_mode())
    return make_error("opencl " + std::string(p_.op_name()) + ": a graph kernel has no upload");
  if (index >= in_specs_.size())
    return make_error("opencl " + std::string(p_.op_name()) + ": no input " +
                      std::to_string(index));
  const TensorSpec& s = in_specs_[index];
  if (t.dtype() != s.dtype || t.shape() != s.shape)
    return make_error("opencl " + std::string(p_.op_name()) + ": input " + s.name +
                      " has the wrong type or shape");
  TB_CL_CHECK(clEnqueueWriteBuffer(d_->queue.get(), in_[index].get(), CL_TRUE, 0, t.bytes(),
                                   t.raw(), 0, nullptr, nullptr));
  mem_.uploaded_bytes += t.bytes();
  if (!repacks_operand(index)) return {};
  begin_timed();
  if (auto r = refresh(index); !r) return r;
  if (auto done = end_timed(); !done) return done.error();
  return {};
}

Result<void> OpKernel::upload(std::span<const Tensor> inputs) {
  if (inputs.size() != in_specs_.size())
    return make_error("opencl " + std::string(p_.op_name()) + ": wrong input count");
  mem_.uploaded_bytes = 0;
  for (std::size_t i = 0; i < inputs.size(); ++i)
    if (auto r = upload_input(i, inputs[i]); !r) return r;
  return {};
}

Result<Timing> OpKernel::execute() {
  if (graph_mode())
    return make_error("opencl " + std::string(p_.op_name()) + ": a graph kernel has no execute");
  begin_timed();
  if (auto r = enqueue(); !r) return r.error();
  auto s = end_timed();
  if (!s) return s.error();
  return Timing{s.value(), TimingSource::profiling_events};
}

Result<void> OpKernel::download(std::span<Tensor> outputs) {
  if (graph_mode())
    return make_error("opencl " + std::string(p_.op_name()) + ": a graph kernel has no download");
  if (outputs.size() != out_specs_.size())
    return make_error("opencl " + std::string(p_.op_name()) + ": wrong output count");
  for (std::size_t i = 0; i < outputs.size(); ++i) {
    const TensorSpec& s = out_specs_[i];
    if (outputs[i].dtype() != s.dtype || outputs[i].shape() != s.shape)
      return make_error("opencl " + std::string(p_.op_name()) + ": output " + s.name +
                        " has the wrong type or shape");
    TB_CL_CHECK(clEnqueueReadBuffer(d_->queue.get(), out_[i].get(), CL_TRUE, 0, outputs[i].bytes(),
                                    outputs[i].raw(), 0, nullptr, nullptr));
  }
  return {};
}

std::vector<std::pair<std::string, double>> OpKernel::details() const {
  std::vector<std::pair<std::string, double>> v = {{"program_build_s", build_s_},
                                                   {"program_cache_hit", cache_hit_ ? 1.0 : 0.0}};
  v.insert(v.end(), extra_details_.begin(), extra_details_.end());
  return v;
}

}  // namespace tb::ocl
