// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Data streams (rtcstreamsink's and rtcstreamsrc's data_%u pads) between
// pipelines of this process paired by the loopback signaller: real
// webrtcbins and SCTP, signalling in memory. Buffers keep their boundaries,
// timestamps, flags and caps (big ones fragmented); EOS arrives; a
// partially reliable stream whose receiver stalls delivers fresh buffers,
// not a backlog. The file copy between gst-launch-1.0 processes through
// the server is in test_launch.cpp.
#include <gst/gst.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "harness.h"

using rtcstream::test::Pipeline;
using rtcstream::test::start_consumer;
using rtcstream::test::start_producer;

namespace {

constexpr int kTimeoutMs = 20000;

struct Sent {
  gsize size;
  GstClockTime pts, dts, duration;
  GstBufferFlags flags;
  guint8 first, last;
};

// A consumer whose downstream stalls: its sink element's pad holds what
// reaches it until unblock () or the end of the scope. Declared after the
// pipeline, so that the block goes before the pipeline stops even when an
// assertion ends the test early: a live source blocked in it while it
// pushes an event holds what its PLAYING to PAUSED waits for, and the sink's
// pad, whose deactivation would release the block, goes only in PAUSED to
// READY (StalledViewerIsRemoved... hung so once in a full run, in the
// slow viewer's stop: the hang reporter's stacks).
class StalledSink {
public:
  explicit StalledSink (GstElement *sink)
      : pad_ (gst_element_get_static_pad (sink, "sink")),
        block_ (gst_pad_add_probe (pad_, GST_PAD_PROBE_TYPE_BLOCK_DOWNSTREAM,
            [] (GstPad *, GstPadProbeInfo *, gpointer) { return GST_PAD_PROBE_OK; }, nullptr,
            nullptr))
  {
  }
  ~StalledSink ()
  {
    unblock ();
    gst_object_unref (pad_);
  }
  StalledSink (const StalledSink &) = delete;
  StalledSink &operator= (const StalledSink &) = delete;
  void unblock ()
  {
    if (block_)
      gst_pad_remove_probe (pad_, block_);
    block_ = 0;
  }

private:
  GstPad *pad_;
  gulong block_;
};

class DataLoopback : public rtcstream::test::StreamingTest {
protected:
  void SetUp () override
  {
    StreamingTest::SetUp ();
    if (IsSkipped () || HasFatalFailure ())
      return;
    if (!rtcstream::test::have ("appsrc") || !rtcstream::test::have ("sctpenc"))
      GTEST_SKIP () << "appsrc or sctpenc is not installed";
    link = std::string ("loopback://data-") +
        ::testing::UnitTest::GetInstance ()->current_test_info ()->name ();
  }

  static void push (GstElement *appsrc, GstBuffer *buffer)
  {
    GstFlowReturn ret;
    g_signal_emit_by_name (appsrc, "push-buffer", buffer, &ret);
    gst_buffer_unref (buffer);
  }

  std::string link;
};

GstBuffer *
pattern_buffer (gsize size, guint seed)
{
  GstBuffer *b = gst_buffer_new_allocate (nullptr, size, nullptr);
  GstMapInfo map;
  gst_buffer_map (b, &map, GST_MAP_WRITE);
  for (gsize i = 0; i < size; i++)
    map.data[i] = (guint8) (i * 31 + seed);
  gst_buffer_unmap (b, &map);
  return b;
}

TEST_F (DataLoopback, BuffersKeepBoundariesTimestampsFlagsAndCaps)
{
  auto prod = start_producer ("appsrc name=in format=time "
      "caps=\"application/x-telemetry, rate=(int)10, name=(string)\\\"probe 1\\\"\" ! "
      "sink.data_0 rtcstreamsink name=sink uri=" + link, kTimeoutMs);
  std::mutex lock;
  std::vector<GstBuffer *> got;
  auto cons = start_consumer ("rtcstreamsrc name=src uri=" + link + " ! fakesink name=d");
  auto d = cons->count ("d", [&] (GstBuffer *b, GstCaps *) {
    std::lock_guard<std::mutex> lk (lock);
    got.push_back (gst_buffer_ref (b));
  });
  // Sizes around the 64 KiB message size, a big one of 3 MiB, and an empty one.
  const gsize sizes[] = {1, 1000, 65536 - 52, 65536 - 51, 200000, 3 * 1024 * 1024, 0, 17};
  std::vector<Sent> sent;
  GstElement *in = prod->element ("in");
  guint i = 0;
  for (gsize size : sizes) {
    GstBuffer *b = pattern_buffer (size, i);
    GST_BUFFER_PTS (b) = i * GST_SECOND / 10;
    GST_BUFFER_DTS (b) = i == 2 ? GST_CLOCK_TIME_NONE : i * GST_SECOND / 10 + 5;
    GST_BUFFER_DURATION (b) = GST_SECOND / 10;
    GST_BUFFER_FLAG_SET (b, i % 2 ? GST_BUFFER_FLAG_DELTA_UNIT : GST_BUFFER_FLAG_HEADER);
    if (i == 3)
      GST_BUFFER_FLAG_SET (b, GST_BUFFER_FLAG_DISCONT | GST_BUFFER_FLAG_MARKER);
    sent.push_back ({size, GST_BUFFER_PTS (b), GST_BUFFER_DTS (b), GST_BUFFER_DURATION (b),
        (GstBufferFlags) GST_BUFFER_FLAGS (b), size ? (guint8) i : (guint8) 0,
        size ? (guint8) ((size - 1) * 31 + i) : (guint8) 0});
    push (in, b);
    i++;
  }
  GstFlowReturn ret;
  g_signal_emit_by_name (in, "end-of-stream", &ret);
  ASSERT_TRUE (cons->wait_for ([&] { return cons->got_eos (); }, kTimeoutMs))
      << d->frames << " buffers\n" << cons->all_errors () << prod->all_errors ();
  EXPECT_TRUE (prod->wait_for ([&] { return prod->got_eos (); }, kTimeoutMs))
      << "the producer did not end after its data pad's EOS";
  std::string caps = d->caps_string ();
  EXPECT_EQ (caps, "application/x-telemetry, rate=(int)10, name=(string)\"probe\\ 1\"");
  std::lock_guard<std::mutex> lk (lock);
  ASSERT_EQ (got.size (), sent.size ());
  const GstBufferFlags carried = (GstBufferFlags) (GST_BUFFER_FLAG_DELTA_UNIT |
      GST_BUFFER_FLAG_HEADER | GST_BUFFER_FLAG_DISCONT | GST_BUFFER_FLAG_MARKER);
  for (size_t k = 0; k < got.size (); k++) {
    GstBuffer *b = got[k];
    SCOPED_TRACE ("buffer " + std::to_string (k));
    EXPECT_EQ (gst_buffer_get_size (b), sent[k].size);
    EXPECT_EQ (GST_BUFFER_PTS (b), sent[k].pts);
    EXPECT_EQ (GST_BUFFER_DTS (b), sent[k].dts);
    EXPECT_EQ (GST_BUFFER_DURATION (b), sent[k].duration);
    // (The first buffer of a stream is DISCONT, whatever was sent.)
    GstBufferFlags mask = k == 0 ? (GstBufferFlags) (carried & ~GST_BUFFER_FLAG_DISCONT)
                                 : carried;
    EXPECT_EQ (GST_BUFFER_FLAGS (b) & mask, sent[k].flags & mask);
    if (sent[k].size) {
      GstBuffer *expect = pattern_buffer (sent[k].size, k);
      GstMapInfo a, e;
      gst_buffer_map (b, &a, GST_MAP_READ);
      gst_buffer_map (expect, &e, GST_MAP_READ);
      EXPECT_EQ (memcmp (a.data, e.data, a.size), 0) << "content differs";
      gst_buffer_unmap (b, &a);
      gst_buffer_unmap (expect, &e);
      gst_buffer_unref (expect);
    }
    gst_buffer_unref (b);
  }
  got.clear ();
  EXPECT_TRUE (cons->errors ().empty ()) << cons->all_errors ();
  EXPECT_TRUE (prod->errors ().empty ()) << prod->all_errors ();
}

// Telemetry that must be fresh: partially reliable. The receiver's
// downstream stalls for 2 s while 10 buffers a ms... every 5 ms arrive;
// when it resumes it gets the newest few, not the 400 it missed, and the
// pad's queue stays bounded meanwhile.
TEST_F (DataLoopback, StalledReceiverOfTelemetryGetsFreshBuffersNotABacklog)
{
  auto prod = start_producer ("appsrc name=in format=time caps=application/x-counter ! "
      "sink.data_0 rtcstreamsink name=sink data-ordered=false data-max-retransmits=0 uri=" +
      link, kTimeoutMs);
  auto cons = start_consumer ("rtcstreamsrc name=src uri=" + link + " ! fakesink name=d");
  std::mutex lock;
  std::vector<guint32> got;
  auto d = cons->count ("d", [&] (GstBuffer *b, GstCaps *) {
    guint32 n = 0;
    gst_buffer_extract (b, 0, &n, sizeof n);
    std::lock_guard<std::mutex> lk (lock);
    got.push_back (n);
  });
  std::atomic<guint32> counter{0};
  std::atomic<bool> stop{false};
  GstElement *in = prod->element ("in");
  std::thread sender ([&] {
    while (!stop) {
      guint32 n = counter++;
      GstBuffer *b = gst_buffer_new_allocate (nullptr, 512, nullptr);
      gst_buffer_fill (b, 0, &n, sizeof n);
      push (in, b);
      std::this_thread::sleep_for (std::chrono::milliseconds (5));
    }
  });
  ASSERT_TRUE (cons->wait_for ([&] { return d->frames >= 20; }, kTimeoutMs))
      << cons->all_errors () << prod->all_errors ();

  // Stall the receiver's downstream for 2 s.
  StalledSink stalled (cons->element ("d"));
  cons->pump (200);  // the block takes hold
  size_t before;
  {
    std::lock_guard<std::mutex> lk (lock);
    before = got.size ();
  }
  cons->pump (2000);
  const guint32 at_resume = counter;
  GstElement *src = cons->element ("src");
  GstElement *appsrc = gst_bin_get_by_name (GST_BIN (src), "data_0-src");
  ASSERT_TRUE (appsrc);
  guint64 queued = 0;
  g_object_get (appsrc, "current-level-buffers", &queued, nullptr);
  gst_object_unref (appsrc);
  EXPECT_LE (queued, 8u) << "the pad's queue grew while downstream stalled";
  stalled.unblock ();
  cons->pump (1000);
  stop = true;
  sender.join ();

  std::lock_guard<std::mutex> lk (lock);
  // What came after the stall: the stalled buffer itself, the queue's few,
  // then live ones; nothing of the ~400 sent while it stalled, but those few.
  guint32 stalled_at = got[before > 0 ? before - 1 : 0];
  size_t backlog = 0;
  for (size_t k = before; k < got.size (); k++)
    if (got[k] > stalled_at && got[k] + 50 < at_resume)
      backlog++;
  EXPECT_LE (backlog, 12u) << "buffers from the stall arrived late: " << backlog << " of "
                           << at_resume - stalled_at;
  EXPECT_GE (got.back (), at_resume) << "no fresh buffer after the stall";
  EXPECT_TRUE (cons->errors ().empty ()) << cons->all_errors ();
}

// A reliable stream with a stalled receiver waits instead of queueing:
// the sender's data pad blocks (the receiver acknowledges only what its
// downstream took), and nothing is lost when it resumes.
TEST_F (DataLoopback, ReliableStreamWaitsForAStalledReceiverAndLosesNothing)
{
  auto prod = start_producer ("appsrc name=in format=time block=true max-bytes=1000000 ! "
      "sink.data_0 rtcstreamsink name=sink uri=" + link, kTimeoutMs);
  auto cons = start_consumer ("rtcstreamsrc name=src uri=" + link + " ! fakesink name=d");
  std::atomic<guint64> bytes{0};
  std::atomic<guint32> next{0};
  std::atomic<bool> in_order{true};
  auto d = cons->count ("d", [&] (GstBuffer *b, GstCaps *) {
    guint32 n = 0;
    gst_buffer_extract (b, 0, &n, sizeof n);
    if (n != next++)
      in_order = false;
    bytes += gst_buffer_get_size (b);
  });
  StalledSink stalled (cons->element ("d"));
  std::atomic<guint32> pushed{0};
  std::atomic<bool> stop{false};
  GstElement *in = prod->element ("in");
  std::thread sender ([&] {
    // 64 MiB offered while the receiver is stalled: far more than may queue.
    for (guint32 n = 0; n < 1024 && !stop; n++) {
      GstBuffer *b = gst_buffer_new_allocate (nullptr, 65536, nullptr);
      gst_buffer_fill (b, 0, &n, sizeof n);
      push (in, b);
      pushed = n + 1;
    }
  });
  cons->pump (3000);
  const guint32 while_stalled = pushed;
  GstElement *src = cons->element ("src");
  GstElement *appsrc = gst_bin_get_by_name (GST_BIN (src), "data_0-src");
  ASSERT_TRUE (appsrc);
  guint64 queued = 0;
  g_object_get (appsrc, "current-level-bytes", &queued, nullptr);
  gst_object_unref (appsrc);
  // The window (8 MiB) and what the channels hold, not the 64 MiB.
  EXPECT_LE (queued, 16u * 1024 * 1024);
  EXPECT_LT (while_stalled, 400u) << "the sender was not held back";
  stalled.unblock ();
  EXPECT_TRUE (cons->wait_for ([&] { return d->frames >= 1024; }, kTimeoutMs))
      << d->frames << " of 1024\n" << cons->all_errors () << prod->all_errors ();
  stop = true;
  sender.join ();
  EXPECT_TRUE (in_order);
  EXPECT_EQ (bytes, 1024u * 65536u);
}

// Two viewers of a reliable stream, one whose downstream stalls: the other
// is held up for data-stall-timeout only; then the stalled one is removed
// (a warning names it) and the other gets every buffer.
TEST_F (DataLoopback, StalledViewerIsRemovedAfterTheStallTimeoutAndTheOtherGoesOn)
{
  auto prod = start_producer ("appsrc name=in format=time block=true max-bytes=1000000 ! "
      "sink.data_0 rtcstreamsink name=sink data-stall-timeout=1500 uri=" + link, kTimeoutMs);
  auto fast = start_consumer ("rtcstreamsrc uri=" + link + " ! fakesink name=d");
  auto slow = start_consumer ("rtcstreamsrc uri=" + link + " ! fakesink name=d");
  std::atomic<guint32> first{G_MAXUINT32}, last{0};
  auto f = fast->count ("d", [&] (GstBuffer *b, GstCaps *) {
    guint32 n = 0;
    gst_buffer_extract (b, 0, &n, sizeof n);
    if (first == G_MAXUINT32)
      first = n;
    last = n;
  });
  StalledSink stalled (slow->element ("d"));
  // Both listen on their data channel (one that opens later would get the
  // stream from where it is then).
  ASSERT_TRUE (prod->wait_for ([&] {
    return rtcstream::test::consumer_stats_strings (prod->element ("sink"),
        "data-streams-open") == std::vector<std::string> {"1", "1"};
  }, kTimeoutMs));
  GstElement *in = prod->element ("in");
  std::thread sender ([&] {
    for (guint32 n = 0; n < 512; n++) {
      GstBuffer *b = gst_buffer_new_allocate (nullptr, 65536, nullptr);
      gst_buffer_fill (b, 0, &n, sizeof n);
      push (in, b);
    }
  });
  EXPECT_TRUE (prod->wait_for ([&] {
    return prod->has_warning_containing ("data-stall-timeout");
  }, kTimeoutMs)) << prod->all_errors ();
  EXPECT_TRUE (fast->wait_for ([&] { return f->frames >= 512; }, kTimeoutMs))
      << f->frames << " of 512, " << first << " to " << last << "\n" << fast->all_errors ();
  sender.join ();
  EXPECT_EQ (rtcstream::test::stats_uint (prod->element ("sink"), "consumers"), 1u);
  stalled.unblock ();  // before the stop: see StalledSink
  slow->stop ();
}

// A stream with video and data, watched by a pipeline that links only the
// video (gst-launch's "rtcstreamsrc ! videoconvert ! ..."): the data pad
// drops what it gets, the video plays, and the producer's data pad is not
// held up.
TEST_F (DataLoopback, DataPadLeftUnlinkedDisturbsNothing)
{
  auto prod = start_producer (rtcstream::test::kVideo + " ! sink.video_0 "
      "appsrc name=in format=time block=true max-bytes=1000000 ! sink.data_0 "
      "rtcstreamsink name=sink data-stall-timeout=0 uri=" + link, kTimeoutMs);
  auto cons = start_consumer ("rtcstreamsrc name=src uri=" + link + " ! fakesink name=v");
  auto v = cons->count ("v");
  std::atomic<guint32> pushed{0};
  GstElement *in = prod->element ("in");
  std::thread sender ([&] {
    for (guint32 n = 0; n < 400; n++) {  // 25 MiB: more than the window
      push (in, gst_buffer_new_allocate (nullptr, 65536, nullptr));
      pushed = n + 1;
    }
  });
  EXPECT_TRUE (cons->wait_for ([&] { return pushed == 400u && v->frames >= 30; }, kTimeoutMs))
      << pushed << " pushed, " << v->frames << " frames\n" << cons->all_errors ()
      << prod->all_errors ();
  sender.join ();
  EXPECT_NE (v->caps_string ().find ("video/x-raw"), std::string::npos) << v->caps_string ();
  EXPECT_TRUE (cons->errors ().empty ()) << cons->all_errors ();
  EXPECT_TRUE (prod->errors ().empty ()) << prod->all_errors ();
}

// An empty stream (an empty file) still arrives: caps, then EOS; both ends
// finish, with no error.
TEST_F (DataLoopback, EmptyStreamEndsBothSides)
{
  auto prod = start_producer ("appsrc name=in format=time caps=application/x-empty ! "
      "sink.data_0 rtcstreamsink name=sink uri=" + link, kTimeoutMs);
  GstFlowReturn ret;
  g_signal_emit_by_name (prod->element ("in"), "end-of-stream", &ret);
  auto cons = start_consumer ("rtcstreamsrc name=src uri=" + link + " ! fakesink name=d");
  auto d = cons->count ("d");
  EXPECT_TRUE (cons->wait_for ([&] { return cons->got_eos (); }, kTimeoutMs))
      << cons->all_errors () << prod->all_errors ();
  EXPECT_TRUE (prod->wait_for ([&] { return prod->got_eos (); }, kTimeoutMs));
  EXPECT_EQ (d->frames, 0);
  EXPECT_TRUE (cons->errors ().empty ()) << cons->all_errors ();
  EXPECT_TRUE (prod->errors ().empty ()) << prod->all_errors ();
}

// A reliable data pad waiting for its first consumer (its streaming thread
// blocked) lets the pipeline stop: the wait ends on PAUSED to READY.
TEST_F (DataLoopback, DataPadWaitingForAConsumerDoesNotHoldUpStop)
{
  auto prod = start_producer ("appsrc name=in format=time ! sink.data_0 "
      "rtcstreamsink name=sink uri=" + link, kTimeoutMs);
  for (int i = 0; i < 3; i++)
    push (prod->element ("in"), gst_buffer_new_allocate (nullptr, 1000, nullptr));
  prod->pump (300);  // the first buffer is waiting in the data pad
  GstElement *in = prod->element ("in");
  guint64 queued = 0;
  g_object_get (in, "current-level-bytes", &queued, nullptr);
  EXPECT_EQ (queued, 2000u) << "the data pad did not wait for a consumer";
  auto start = std::chrono::steady_clock::now ();
  prod->stop ();
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds> (
      std::chrono::steady_clock::now () - start).count ();
  // A bound on a hang (as LaunchProcess bounds a stop), not a speed claim.
  EXPECT_LT (ms, 10000) << "stopping hung for " << ms << " ms";
  EXPECT_TRUE (prod->errors ().empty ()) << prod->all_errors ();
}

TEST_F (DataLoopback, CapsThatCannotTravelAreAClearError)
{
  // A caps field holding an object pointer cannot be serialized.
  auto prod = std::make_unique<Pipeline> ("appsrc name=in format=time ! "
      "sink.data_0 rtcstreamsink name=sink uri=" + link);
  ASSERT_TRUE (prod->ok ()) << prod->parse_error ();
  GstElement *in = prod->element ("in");
  GstCaps *caps = gst_caps_new_simple ("application/x-object", "obj", G_TYPE_OBJECT, in,
      nullptr);
  g_object_set (in, "caps", caps, nullptr);
  gst_caps_unref (caps);
  prod->play ();
  push (in, gst_buffer_new_allocate (nullptr, 10, nullptr));
  EXPECT_TRUE (prod->wait_for ([&] {
    return prod->has_error_containing ("cannot be sent with a data stream");
  }, kTimeoutMs)) << prod->all_errors ();
}

}  // namespace
