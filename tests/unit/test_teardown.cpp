// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A session's teardown (gst/rtcstream/session.cpp) against the states
// GStreamer 1.22's elements can be left in.
#include <gst/gst.h>
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <thread>

#include "rtcstream/session.h"

namespace {

// The task of pad, if any, and its state.
GstTaskState
task_state (GstPad *pad)
{
  GST_OBJECT_LOCK (pad);
  GstTask *task = GST_PAD_TASK (pad);
  GstTaskState state = task ? gst_task_get_state (task) : GST_TASK_STOPPED;
  GST_OBJECT_UNLOCK (pad);
  return state;
}

// A bin standing for a webrtcbin, with one sctpenc inside (sctpenc and src
// null when GStreamer's sctp plugin is missing).
struct BinWithSctpenc {
  GstElement *bin = gst_bin_new ("webrtcbin-like");
  GstElement *sctpenc = gst_element_factory_make ("sctpenc", nullptr);
  GstPad *src = nullptr;
  BinWithSctpenc ()
  {
    if (sctpenc) {
      gst_bin_add (GST_BIN (bin), sctpenc);
      src = gst_element_get_static_pad (sctpenc, "src");
    }
  }
  ~BinWithSctpenc ()
  {
    if (src)
      gst_object_unref (src);
    gst_object_unref (bin);
  }
  // Nothing of the sctpenc runs any more.
  bool stopped () const { return !GST_PAD_TASK (src) && GST_STATE (sctpenc) == GST_STATE_NULL; }
};

// The end state that hung the churn benchmark's producer (its sink's worker
// in gst_pad_stop_task for good, every later viewer without video): an
// sctpenc in NULL, its src pad inactive, and its task waiting in
// gst_data_queue_pop with the queue not flushing, restarted by a
// RECONFIGURE that reached the pad while it left PAUSED. That race cannot
// be made to happen on demand, so the test puts the sctpenc in its end
// state directly: the RECONFIGURE goes to the pad's event function, as it
// did when the pad was still active.
TEST (Teardown, AnSctpencTaskLeftRunningInNullIsJoined)
{
  BinWithSctpenc b;
  if (!b.src)
    GTEST_SKIP () << "sctpenc is not installed";
  ASSERT_FALSE (GST_PAD_IS_ACTIVE (b.src));
  ASSERT_TRUE (GST_PAD_EVENTFUNC (b.src) (b.src, GST_OBJECT (b.sctpenc),
      gst_event_new_reconfigure ()));
  ASSERT_EQ (task_state (b.src), GST_TASK_STARTED);
  // Let the task reach its queue.
  std::this_thread::sleep_for (std::chrono::milliseconds (100));
  ASSERT_EQ (task_state (b.src), GST_TASK_STARTED);
  // gst_pad_send_event refuses a FLUSH_START on the inactive pad: what
  // stop_stragglers used to rely on alone.
  EXPECT_FALSE (gst_pad_send_event (b.src, gst_event_new_flush_start ()));

  GstElement *bin = b.bin;
  auto done = std::async (std::launch::async, [bin] { rtcstream::stop_stragglers (bin); });
  if (done.wait_for (std::chrono::seconds (10)) != std::future_status::ready) {
    // The thread waits for ever: nothing can be cleaned up.
    ADD_FAILURE () << "stop_stragglers did not return within 10 s: it waits for the stream lock "
                      "of sctpenc's task, which waits in gst_data_queue_pop";
    fflush (stdout);
    _exit (1);
  }
  EXPECT_TRUE (b.stopped ());
}

// The usual case: a session's sctpenc stopped with its webrtcbin, no task
// left; stop_stragglers leaves nothing running and returns.
TEST (Teardown, AStoppedSctpencIsLeftAsItIs)
{
  BinWithSctpenc b;
  if (!b.src)
    GTEST_SKIP () << "sctpenc is not installed";
  ASSERT_EQ (task_state (b.src), GST_TASK_STOPPED);
  rtcstream::stop_stragglers (b.bin);
  EXPECT_TRUE (b.stopped ());
}

}  // namespace
