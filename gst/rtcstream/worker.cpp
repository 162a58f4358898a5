// SPDX-License-Identifier: LGPL-2.1-or-later
#include "worker.h"

#include <condition_variable>
#include <mutex>

namespace rtcstream {

namespace {

struct Task {
  std::function<void ()> fn;
};

gboolean
run_task (gpointer data)
{
  static_cast<Task *> (data)->fn ();
  return G_SOURCE_REMOVE;
}

void
free_task (gpointer data)
{
  delete static_cast<Task *> (data);
}

}  // namespace

Worker::Worker (std::string name) : name_ (std::move (name))
{
  context_ = g_main_context_new ();
  loop_ = g_main_loop_new (context_, FALSE);
  std::mutex m;
  std::condition_variable cv;
  bool started = false;
  // The thread owns refs of its own: a Worker destroyed from one of its own
  // callbacks cannot join, and the loop must outlive it.
  GMainContext *ctx = g_main_context_ref (context_);
  GMainLoop *loop = g_main_loop_ref (loop_);
  thread_ = std::thread ([ctx, loop, &m, &cv, &started] {
    g_main_context_push_thread_default (ctx);
    // Signal readiness from inside the loop, so post() before run works too.
    GSource *idle = g_idle_source_new ();
    auto *ready = new Task{[&m, &cv, &started] {
      std::lock_guard<std::mutex> lk (m);
      started = true;
      cv.notify_one ();
    }};
    g_source_set_callback (idle, run_task, ready, free_task);
    g_source_attach (idle, ctx);
    g_source_unref (idle);
    g_main_loop_run (loop);
    g_main_context_pop_thread_default (ctx);
    g_main_loop_unref (loop);
    g_main_context_unref (ctx);
  });
  std::unique_lock<std::mutex> lk (m);
  cv.wait (lk, [&started] { return started; });
}

Worker::~Worker ()
{
  GMainLoop *loop = g_main_loop_ref (loop_);
  post ([loop] {
    g_main_loop_quit (loop);
    g_main_loop_unref (loop);
  });
  if (thread_.joinable ()) {
    if (thread_.get_id () == std::this_thread::get_id ())
      thread_.detach ();  // destroyed from its own callback: it ends by itself
    else
      thread_.join ();
  }
  // Tasks still queued are not run: the last unref of the context destroys
  // their sources, which frees the closures (and any refs they hold).
  g_main_loop_unref (loop_);
  g_main_context_unref (context_);
}

bool
Worker::on_worker_thread () const
{
  return thread_.get_id () == std::this_thread::get_id ();
}

void
Worker::post (std::function<void ()> fn)
{
  GSource *src = g_idle_source_new ();
  g_source_set_priority (src, G_PRIORITY_DEFAULT);
  g_source_set_callback (src, run_task, new Task{std::move (fn)}, free_task);
  g_source_attach (src, context_);
  g_source_unref (src);
}

guint
Worker::post_delayed (guint delay_ms, std::function<void ()> fn)
{
  GSource *src = g_timeout_source_new (delay_ms);
  g_source_set_callback (src, run_task, new Task{std::move (fn)}, free_task);
  guint id = g_source_attach (src, context_);
  g_source_unref (src);
  return id;
}

void
Worker::run_sync (std::function<void ()> fn)
{
  if (on_worker_thread ()) {
    fn ();
    return;
  }
  std::mutex m;
  std::condition_variable cv;
  bool done = false;
  post ([&] {
    fn ();
    std::lock_guard<std::mutex> lk (m);
    done = true;
    cv.notify_one ();
  });
  std::unique_lock<std::mutex> lk (m);
  cv.wait (lk, [&done] { return done; });
}

}  // namespace rtcstream
