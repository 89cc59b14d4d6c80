// Load, attach, poll, detach. Thin on purpose: records cross to JavaScript
// as raw bytes, one Buffer per batch, and every libbpf failure becomes a JS
// Error carrying errno and what to do about it.
#include "tracer.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <string>

#include <linux/types.h>

#include "errors.h"
#include "rstrace.h"
#include "rstrace.skel.h"

namespace {

// Batches in JavaScript's queue at once; the rest wait here, bounded by
// max_pending_bytes_. The queue itself is unbounded so that close() never
// blocks the JS thread on its own queue.
constexpr size_t kMaxQueuedBatches = 8;
// Small batches keep what JavaScript builds from one batch short-lived (it
// dies in the young generation); a storm is many of them, not a huge one.
constexpr size_t kMaxBatchRecords = RST_BATCH_RECORDS;

uint64_t NumberOption(const Napi::Object& o, const char* key, uint64_t dflt) {
  if (!o.Has(key)) return dflt;
  Napi::Value v = o.Get(key);
  if (v.IsUndefined() || v.IsNull()) return dflt;
  if (v.IsBigInt()) {
    bool lossless;
    return v.As<Napi::BigInt>().Uint64Value(&lossless);
  }
  return static_cast<uint64_t>(v.As<Napi::Number>().DoubleValue());
}

}  // namespace

std::vector<uint8_t> BufferPool::Take(size_t capacity) {
  {
    std::lock_guard<std::mutex> lock(mu);
    if (!free.empty()) {
      std::vector<uint8_t> v = std::move(free.back());
      free.pop_back();
      v.clear();
      return v;
    }
  }
  std::vector<uint8_t> v;
  v.reserve(capacity);
  return v;
}

void BufferPool::Give(std::vector<uint8_t>&& v) {
  std::lock_guard<std::mutex> lock(mu);
  if (free.size() < 2 * kMaxQueuedBatches) free.push_back(std::move(v));
}

Napi::Function Tracer::Init(Napi::Env env) {
  return DefineClass(env, "Tracer",
                     {
                         InstanceMethod("start", &Tracer::Start),
                         InstanceMethod("counters", &Tracer::Counters),
                         InstanceMethod("sendResetsByNetns", &Tracer::SendResetsByNetns),
                         InstanceMethod("close", &Tracer::Close),
                         InstanceMethod("attached", &Tracer::Attached),
                         InstanceMethod("pause", &Tracer::Pause),
                         InstanceMethod("resume", &Tracer::Resume),
                     });
}

// new Tracer(options): open, configure, load and attach. Throws with a remedy.
Tracer::Tracer(const Napi::CallbackInfo& info) : Napi::ObjectWrap<Tracer>(info) {
  Napi::Env env = info.Env();
  Napi::Object opts = info.Length() > 0 && info[0].IsObject() ? info[0].As<Napi::Object>()
                                                              : Napi::Object::New(env);
  if (access("/sys/kernel/btf/vmlinux", R_OK) != 0) {
    ThrowError(env, "BTF not found at /sys/kernel/btf/vmlinux", ENOENT,
               "this kernel was built without CONFIG_DEBUG_INFO_BTF; rstrace needs a kernel with BTF");
    return;
  }
  LibbpfLog log;
  skel_ = rstrace_bpf__open();
  if (!skel_) {
    ThrowLibbpf(env, "opening the BPF object", errno, log.Text());
    return;
  }
  skel_->rodata->filter_tgid = NumberOption(opts, "filterTgid", 0);
  skel_->rodata->filter_port = NumberOption(opts, "filterPort", 0);
  skel_->rodata->filter_netns = NumberOption(opts, "filterNetns", 0);
  skel_->rodata->filter_cgroup = NumberOption(opts, "filterCgroup", 0);
  // [id, verdict, id, verdict, ...]: filled into cgroup_verdict after load
  Napi::Array verdicts = opts.Has("cgroupVerdicts") && opts.Get("cgroupVerdicts").IsArray()
                             ? opts.Get("cgroupVerdicts").As<Napi::Array>()
                             : Napi::Array::New(env);
  skel_->rodata->filter_cgroup_names = verdicts.Length() > 0;
  skel_->rodata->assume_no_reason = opts.Has("assumeNoReason") && opts.Get("assumeNoReason").ToBoolean();
  skel_->rodata->wakeup_bytes = NumberOption(opts, "wakeupBytes", 1u << 20);
  poll_timeout_ms_ = static_cast<int>(NumberOption(opts, "pollTimeoutMs", 10));
  // The ring's size (bytes): a power of two, at least a page. Tests use a
  // small one to make the ring wrap after a few hundred records.
  if (opts.Has("ringBytes") && !opts.Get("ringBytes").IsUndefined()) {
    uint64_t bytes = NumberOption(opts, "ringBytes", 0);
    long page = sysconf(_SC_PAGESIZE);
    if (bytes < static_cast<uint64_t>(page) || (bytes & (bytes - 1)) != 0 || bytes > (1ull << 30)) {
      ThrowError(env, "ringBytes must be a power of two between the page size and 1 GiB", EINVAL,
                 "pass e.g. 65536, or leave it out for the object's default");
      Shutdown();
      return;
    }
    bpf_map__set_max_entries(skel_->maps.events, static_cast<uint32_t>(bytes));
  }
  max_pending_bytes_ = NumberOption(opts, "maxPendingBytes", 16u << 20);

  // Optional hooks the caller found missing on this kernel (see src/kernel/).
  if (opts.Has("skipPrograms") && opts.Get("skipPrograms").IsArray()) {
    Napi::Array skip = opts.Get("skipPrograms").As<Napi::Array>();
    for (uint32_t i = 0; i < skip.Length(); i++) {
      std::string name = skip.Get(i).ToString().Utf8Value();
      struct bpf_program* prog = bpf_object__find_program_by_name(skel_->obj, name.c_str());
      if (prog) bpf_program__set_autoload(prog, false);
    }
  }
  // tcp_send_reset notes the stack's RST tuples only for the firewall hook, when it loads.
  skel_->rodata->note_stack_rsts = bpf_program__autoload(skel_->progs.handle_net_dev_queue);

  // The verifier gives up with EAGAIN when a signal is pending, and a process
  // that gets signals often (a profiler's SIGPROF, a busy parent's SIGCHLD)
  // would never load: hold them until the programs are in.
  sigset_t all, old;
  sigfillset(&all);
  pthread_sigmask(SIG_BLOCK, &all, &old);
  int err = rstrace_bpf__load(skel_);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
  if (err) {
    ThrowLibbpf(env, "loading the BPF programs", -err, log.Text());
    Shutdown();
    return;
  }
  for (uint32_t i = 0; i + 1 < verdicts.Length(); i += 2) {
    uint64_t id = static_cast<uint64_t>(verdicts.Get(i).ToNumber().DoubleValue());
    uint8_t match = verdicts.Get(i + 1).ToBoolean() ? 1 : 0;
    // a full map leaves the rest unknown to the kernel: they pass to user space
    if (bpf_map__update_elem(skel_->maps.cgroup_verdict, &id, sizeof(id), &match, sizeof(match), BPF_ANY) != 0) break;
  }
  struct bpf_program* prog;
  bpf_object__for_each_program(prog, skel_->obj) {
    if (!bpf_program__autoload(prog)) continue;
    struct bpf_link* link = bpf_program__attach(prog);
    if (!link) {
      int e = errno;
      std::string what = std::string("attaching ") + bpf_program__name(prog);
      ThrowLibbpf(env, what.c_str(), e, log.Text());
      Shutdown();
      return;
    }
    // The skeleton owns the links so that destroy() detaches them all.
    for (int i = 0; i < skel_->skeleton->prog_cnt; i++) {
      if (*skel_->skeleton->progs[i].prog == prog) *skel_->skeleton->progs[i].link = link;
    }
    attached_.push_back(bpf_program__name(prog));
  }
  rb_ = ring_buffer__new(bpf_map__fd(skel_->maps.events), &Tracer::OnRecord, this, nullptr);
  if (!rb_) {
    ThrowLibbpf(env, "creating the ring buffer reader", errno, log.Text());
    Shutdown();
    return;
  }
  // Detach on process exit even if JS never calls close(). The destructor
  // removes the hook by the same function pointer (two lambdas would be two
  // functions, and the removal would silently match nothing).
  napi_add_env_cleanup_hook(env, &Tracer::CleanupHook, this);
  cleanup_hook_added_ = true;
}

void Tracer::CleanupHook(void* self) { static_cast<Tracer*>(self)->Shutdown(); }

Tracer::~Tracer() {
  Shutdown();
  if (cleanup_hook_added_) napi_remove_env_cleanup_hook(Env(), &Tracer::CleanupHook, this);
}

int Tracer::OnRecord(void* ctx, void* data, size_t size) {
  auto* self = static_cast<Tracer*>(ctx);
  if (size != sizeof(struct rst_record)) return 0;  // never produced; keeps the batch aligned
  const uint8_t* p = static_cast<const uint8_t*>(data);
  self->pending_.insert(self->pending_.end(), p, p + size);
  if (++self->pending_records_ == kMaxBatchRecords) self->Seal();
  return 0;
}

// start(onBatch): onBatch(buffer, records) is called on the JS thread once per batch.
Napi::Value Tracer::Start(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!skel_ || !rb_) {
    ThrowError(env, "the tracer is closed", EBADF, "create a new Tracer");
    return env.Undefined();
  }
  if (running_) {
    ThrowError(env, "the tracer is already started", EBUSY, "call start() once");
    return env.Undefined();
  }
  if (info.Length() < 1 || !info[0].IsFunction()) {
    Napi::TypeError::New(env, "start(onBatch) needs a function").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  std::shared_ptr<CloseWaiter> waiter = close_waiter_;
  tsfn_ = Napi::ThreadSafeFunction::New(env, info[0].As<Napi::Function>(), "rstrace-batches",
                                        0, 1, [waiter](Napi::Env e) {
                                          if (waiter->deferred) waiter->deferred->Resolve(e.Undefined());
                                        });
  tsfn_live_ = true;
  pending_ = pool_->Take(kMaxBatchRecords * sizeof(struct rst_record));
  running_ = true;
  poller_ = std::thread(&Tracer::PollLoop, this);
  return env.Undefined();
}

// The records gathered so far become a batch, ready for JavaScript.
void Tracer::Seal() {
  if (pending_records_ == 0) return;
  ready_bytes_ += pending_.size();
  ready_.push_back(new Batch{std::move(pending_), pending_records_, in_flight_, pool_});
  pending_ = pool_->Take(kMaxBatchRecords * sizeof(struct rst_record));
  pending_records_ = 0;
}

// Hands ready batches to JavaScript, oldest first, while fewer than
// kMaxQueuedBatches wait there (all of them when `all`, at close).
void Tracer::Flush(bool all) {
  Seal();
  if (!tsfn_live_) return;
  auto deliver = [](Napi::Env env, Napi::Function cb, Batch* b) {
    b->in_flight->fetch_sub(1);
    if (env == nullptr || cb == nullptr) {  // the environment is shutting down
      delete b;
      return;
    }
    size_t records = b->records;
    auto buf = Napi::Buffer<uint8_t>::New(env, b->bytes.data(), b->bytes.size(),
                                          [](Napi::Env, uint8_t*, Batch* owner) {
                                            owner->pool->Give(std::move(owner->bytes));
                                            delete owner;
                                          }, b);
    cb.Call({buf, Napi::Number::New(env, static_cast<double>(records))});
  };
  while (!ready_.empty()) {
    if (!all && in_flight_->load() >= kMaxQueuedBatches) {
      queue_full_++;  // JS is busy: retry after the next poll
      return;
    }
    Batch* batch = ready_.front();
    size_t records = batch->records, bytes = batch->bytes.size();
    in_flight_->fetch_add(1);
    if (tsfn_.NonBlockingCall(batch, deliver) != napi_ok) {
      in_flight_->fetch_sub(1);
      return;  // closing: the batch stays ready and is freed with the tracer
    }
    ready_.pop_front();
    ready_bytes_ -= bytes;
    delivered_ += records;
    batches_++;
  }
}

void Tracer::PollLoop() {
  while (running_) {
    int n = ring_buffer__poll(rb_, poll_timeout_ms_);
    if (n < 0 && n != -EINTR) {
      poll_error_ = -n;
      break;
    }
    // Wake-ups are batched in the kernel, so a timed-out poll still has data.
    if (ready_bytes_ + pending_.size() < max_pending_bytes_ && !paused_) {
      ring_buffer__consume(rb_);
    } else {
      stalls_++;  // JS far behind: leave records in the ring; the kernel counts losses
    }
    Flush(false);
  }
}

// Sums the per-CPU kernel counters; kept after close() so the final figures survive.
void Tracer::ReadKernelCounters() {
  if (!skel_) return;
  int ncpu = libbpf_num_possible_cpus();
  std::vector<uint64_t> vals(ncpu > 0 ? ncpu : 1);
  std::vector<uint64_t> lost_per_cpu(vals.size());
  uint64_t totals[RST_CNT_MAX] = {};
  for (uint32_t key = 0; key < RST_CNT_MAX; key++) {
    if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.counters), &key, vals.data()) != 0) continue;
    for (size_t c = 0; c < vals.size(); c++) {
      totals[key] += vals[c];
      if (key == RST_CNT_LOST) lost_per_cpu[c] = vals[c];
    }
  }
  kernel_emitted_ = totals[RST_CNT_EMITTED];
  kernel_lost_ = totals[RST_CNT_LOST];
  kernel_filtered_ = totals[RST_CNT_FILTERED];
  lost_per_cpu_ = std::move(lost_per_cpu);
}

// Sums the per-CPU hits of every namespace; kept after close() like the counters.
void Tracer::ReadSendResetsByNetns() {
  if (!skel_) return;
  int ncpu = libbpf_num_possible_cpus();
  std::vector<uint64_t> vals(ncpu > 0 ? ncpu : 1);
  auto sum = [&]() {
    uint64_t t = 0;
    for (uint64_t v : vals) t += v;
    return t;
  };
  std::vector<std::pair<uint32_t, uint64_t>> out;
  int fd = bpf_map__fd(skel_->maps.send_resets_by_netns);
  uint32_t key, next;
  uint32_t* prev = nullptr;
  // bounded by the map's max_entries; a key deleted meanwhile cannot happen (nothing deletes)
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    if (bpf_map_lookup_elem(fd, &next, vals.data()) == 0) out.emplace_back(next, sum());
    key = next;
    prev = &key;
  }
  uint32_t zero = 0;
  if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.send_resets_netns_overflow), &zero, vals.data()) == 0) {
    send_resets_netns_overflow_ = sum();
  }
  send_resets_by_netns_ = std::move(out);
}

// sendResetsByNetns() -> { byNetns: [[inode, hits], ...], overflow }
Napi::Value Tracer::SendResetsByNetns(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ReadSendResetsByNetns();
  Napi::Array list = Napi::Array::New(env, send_resets_by_netns_.size());
  for (size_t i = 0; i < send_resets_by_netns_.size(); i++) {
    Napi::Array pair = Napi::Array::New(env, 2);
    pair.Set(0u, Napi::Number::New(env, send_resets_by_netns_[i].first));
    pair.Set(1u, Napi::Number::New(env, static_cast<double>(send_resets_by_netns_[i].second)));
    list.Set(i, pair);
  }
  Napi::Object out = Napi::Object::New(env);
  out.Set("byNetns", list);
  out.Set("overflow", Napi::Number::New(env, static_cast<double>(send_resets_netns_overflow_)));
  return out;
}

Napi::Value Tracer::Counters(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ReadKernelCounters();
  Napi::Object out = Napi::Object::New(env);
  auto num = [&](uint64_t v) { return Napi::Number::New(env, static_cast<double>(v)); };
  Napi::Array lost_per_cpu = Napi::Array::New(env, lost_per_cpu_.size());
  for (size_t c = 0; c < lost_per_cpu_.size(); c++) lost_per_cpu.Set(c, num(lost_per_cpu_[c]));
  out.Set("emitted", num(kernel_emitted_));
  out.Set("lost", num(kernel_lost_));
  out.Set("filtered", num(kernel_filtered_));
  out.Set("lostPerCpu", lost_per_cpu);
  out.Set("delivered", num(delivered_.load()));
  out.Set("batches", num(batches_.load()));
  out.Set("queueFull", num(queue_full_.load()));
  out.Set("stalls", num(stalls_.load()));
  out.Set("pollError", Napi::Number::New(env, poll_error_.load()));
  return out;
}

// pause()/resume(): a sink that cannot keep up (a slow stdout) stops the
// reading of the ring instead of buffering without bound; the kernel then
// counts what it cannot write, per CPU, so nothing is lost silently.
Napi::Value Tracer::Pause(const Napi::CallbackInfo& info) {
  paused_ = true;
  return info.Env().Undefined();
}

Napi::Value Tracer::Resume(const Napi::CallbackInfo& info) {
  paused_ = false;
  return info.Env().Undefined();
}

Napi::Value Tracer::Attached(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Array out = Napi::Array::New(env, attached_.size());
  for (size_t i = 0; i < attached_.size(); i++) out.Set(i, attached_[i]);
  return out;
}

// close(): detach, deliver what is still in the ring, and resolve once every
// batch has reached JavaScript. Safe to call twice.
Napi::Value Tracer::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto deferred = Napi::Promise::Deferred::New(env);
  if (skel_) rstrace_bpf__detach(skel_);  // no new records from here on
  ReadKernelCounters();
  ReadSendResetsByNetns();
  bool was_running = running_.exchange(false);
  if (poller_.joinable()) poller_.join();
  if (was_running && rb_ && tsfn_live_) {
    ring_buffer__consume(rb_);
    Flush(true);
  }
  if (tsfn_live_) {
    // The finalizer resolves once every queued batch has reached JavaScript.
    close_waiter_->deferred.emplace(deferred);
    tsfn_live_ = false;
    tsfn_.Release();
  } else {
    deferred.Resolve(env.Undefined());
  }
  Shutdown();
  return deferred.Promise();
}

void Tracer::Shutdown() {
  running_ = false;
  if (poller_.joinable()) poller_.join();
  if (rb_) {
    ring_buffer__free(rb_);
    rb_ = nullptr;
  }
  for (Batch* b : ready_) delete b;
  ready_.clear();
  ready_bytes_ = 0;
  if (skel_) {
    rstrace_bpf__destroy(skel_);
    skel_ = nullptr;
  }
  if (tsfn_live_) {
    tsfn_live_ = false;
    tsfn_.Release();
  }
}
