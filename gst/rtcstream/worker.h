// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A thread running a GMainLoop on a GMainContext of its own. Elements and
// signallers post their work here so that nothing network- or
// negotiation-related runs on a streaming thread or on webrtcbin's threads,
// and so that each element's signalling is serialized on one context.
#pragma once

#include <glib.h>
#include <functional>
#include <string>
#include <thread>

namespace rtcstream {

class Worker {
public:
  explicit Worker (std::string name);
  ~Worker ();  // stops and joins; safe to call from any thread but the worker's

  Worker (const Worker &) = delete;
  Worker &operator= (const Worker &) = delete;

  GMainContext *context () const { return context_; }
  bool on_worker_thread () const;

  // Runs fn on the worker thread, later (never inline). Safe from any thread.
  void post (std::function<void ()> fn);
  // Runs fn on the worker after delay_ms. Returns the source id (of the
  // worker's context); the callback runs once.
  guint post_delayed (guint delay_ms, std::function<void ()> fn);
  // Runs fn on the worker and waits for it (inline if already there).
  // Never call from a streaming thread.
  void run_sync (std::function<void ()> fn);

private:
  std::string name_;
  GMainContext *context_ = nullptr;
  GMainLoop *loop_ = nullptr;
  std::thread thread_;
};

}  // namespace rtcstream
