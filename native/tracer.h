// The tracer object: loads the BPF skeleton, attaches its programs, polls
// the ring buffer on its own thread and hands raw record bytes to
// JavaScript in batches. All meaning lives in src/.
#pragma once

#include <napi.h>

#include <atomic>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <mutex>
#include <thread>
#include <vector>

struct rstrace_bpf;

// Record buffers go back to a pool once JavaScript is done with them: a storm
// then reuses a few buffers instead of churning the allocator (whose arenas
// would keep the high-water mark of two threads allocating and freeing).
struct BufferPool {
  std::mutex mu;
  std::vector<std::vector<uint8_t>> free;
  std::vector<uint8_t> Take(size_t capacity);
  void Give(std::vector<uint8_t>&& v);
};

struct Batch {
  std::vector<uint8_t> bytes;
  size_t records;
  // batches handed to JavaScript and not yet processed; shared because a
  // batch may outlive the tracer that sent it
  std::shared_ptr<std::atomic<size_t>> in_flight;
  std::shared_ptr<BufferPool> pool;
};
struct ring_buffer;

class Tracer : public Napi::ObjectWrap<Tracer> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit Tracer(const Napi::CallbackInfo& info);
  ~Tracer() override;

 private:
  Napi::Value Start(const Napi::CallbackInfo& info);
  Napi::Value Counters(const Napi::CallbackInfo& info);
  Napi::Value SendResetsByNetns(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Attached(const Napi::CallbackInfo& info);
  Napi::Value Pause(const Napi::CallbackInfo& info);
  Napi::Value Resume(const Napi::CallbackInfo& info);

  void Shutdown();
  void ReadKernelCounters();
  void ReadSendResetsByNetns();
  void PollLoop();
  void Flush(bool all);
  void Seal();
  static int OnRecord(void* ctx, void* data, size_t size);
  // Registered at construction, removed in the destructor: one function for both.
  static void CleanupHook(void* self);

  struct CloseWaiter {
    std::optional<Napi::Promise::Deferred> deferred;
  };

  rstrace_bpf* skel_ = nullptr;
  std::shared_ptr<CloseWaiter> close_waiter_ = std::make_shared<CloseWaiter>();
  ring_buffer* rb_ = nullptr;
  std::thread poller_;
  std::atomic<bool> running_{false};
  std::atomic<bool> paused_{false};  // a sink is full: leave records in the ring
  Napi::ThreadSafeFunction tsfn_;
  bool tsfn_live_ = false;
  bool cleanup_hook_added_ = false;
  std::vector<std::string> attached_;

  // Records gathered in the ring buffer callback, sealed into batches of at
  // most kMaxBatchRecords, handed over after each poll.
  std::vector<uint8_t> pending_;
  size_t pending_records_ = 0;
  std::deque<Batch*> ready_;
  size_t ready_bytes_ = 0;
  std::shared_ptr<std::atomic<size_t>> in_flight_ = std::make_shared<std::atomic<size_t>>(0);
  std::shared_ptr<BufferPool> pool_ = std::make_shared<BufferPool>();
  int poll_timeout_ms_ = 10;
  size_t max_pending_bytes_ = 16u << 20;

  // User-space counters (the kernel's are read from the counters map).
  std::atomic<uint64_t> delivered_{0};
  std::atomic<uint64_t> batches_{0};
  std::atomic<uint64_t> queue_full_{0};   // a batch waited: JS was busy
  std::atomic<uint64_t> stalls_{0};       // consumption paused: JS far behind
  std::atomic<int> poll_error_{0};
  uint64_t kernel_emitted_ = 0, kernel_lost_ = 0, kernel_filtered_ = 0;
  std::vector<uint64_t> lost_per_cpu_;
  // tcp_send_reset hits by netns inode (bpf/netns-count.bpf.h), kept after close()
  std::vector<std::pair<uint32_t, uint64_t>> send_resets_by_netns_;
  uint64_t send_resets_netns_overflow_ = 0;
};
