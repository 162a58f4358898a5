// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A viewer switched between renditions of the encoding ladder keeps one
// continuous RTP stream: its payloader stays, so sequence numbers run on
// with no gap or jump and timestamps do not go back, across the switch.
// Two rtcstreamsrcs of this process watch one rtcstreamsink through the
// loopback signaller; the network loses 30% of what the sink sends the
// second one (packets dropped at its webrtcbin's nicesink, after TWCC
// numbered them), so that its estimate falls and the sink moves it down the
// ladder while the first keeps the full picture.
#include <gst/gst.h>
#include <gst/rtp/rtp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "harness.h"

using rtcstream::test::Pipeline;
using rtcstream::test::start_producer;

namespace {

constexpr int kTimeoutMs = 30000;

// What one consumer's webrtcbin is given by its video payloader.
struct RtpLog {
  std::mutex lock;
  std::vector<guint16> seqnums;
  std::vector<guint32> timestamps;
  std::vector<guint32> ssrcs;
};

// What the test keeps of each consumer the sink adds, in order.
struct Consumers {
  std::mutex lock;
  std::vector<GstElement *> webrtcbins;  // refs
  std::vector<std::shared_ptr<RtpLog>> logs;
  ~Consumers ()
  {
    for (GstElement *w : webrtcbins)
      gst_object_unref (w);
  }
};

void
log_rtp (RtpLog &log, GstBuffer *buf)
{
  GstRTPBuffer rtp = GST_RTP_BUFFER_INIT;
  if (!gst_rtp_buffer_map (buf, GST_MAP_READ, &rtp))
    return;
  std::lock_guard<std::mutex> lk (log.lock);
  log.seqnums.push_back (gst_rtp_buffer_get_seq (&rtp));
  log.timestamps.push_back (gst_rtp_buffer_get_timestamp (&rtp));
  log.ssrcs.push_back (gst_rtp_buffer_get_ssrc (&rtp));
  gst_rtp_buffer_unmap (&rtp);
}

// The payloader's streaming thread.
GstPadProbeReturn
on_rtp (GstPad *, GstPadProbeInfo *info, gpointer data)
{
  auto &log = *static_cast<RtpLog *> (data);
  if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
    log_rtp (log, GST_PAD_PROBE_INFO_BUFFER (info));
  } else if (info->type & GST_PAD_PROBE_TYPE_BUFFER_LIST) {
    GstBufferList *list = GST_PAD_PROBE_INFO_BUFFER_LIST (info);
    for (guint i = 0; i < gst_buffer_list_length (list); i++)
      log_rtp (log, gst_buffer_list_get (list, i));
  }
  return GST_PAD_PROBE_OK;
}

// The sink's worker: a new consumer. Its webrtcbin's first sink pad is the
// video's (the only input).
void
on_consumer_added (GstElement *, const gchar *, GstElement *webrtcbin, gpointer data)
{
  auto &consumers = *static_cast<Consumers *> (data);
  auto log = std::make_shared<RtpLog> ();
  GstPad *pad = gst_element_get_static_pad (webrtcbin, "sink_0");
  if (pad) {
    gst_pad_add_probe (pad, (GstPadProbeType) (GST_PAD_PROBE_TYPE_BUFFER |
        GST_PAD_PROBE_TYPE_BUFFER_LIST), on_rtp, log.get (), nullptr);
    gst_object_unref (pad);
  }
  std::lock_guard<std::mutex> lk (consumers.lock);
  consumers.webrtcbins.push_back (GST_ELEMENT (gst_object_ref (webrtcbin)));
  consumers.logs.push_back (log);
}

// The network's loss: 3 of every 10 packets sent while on.
struct Loss {
  std::atomic<bool> on{false};
  std::atomic<unsigned> count{0};
};

GstPadProbeReturn
drop_some (GstPad *, GstPadProbeInfo *, gpointer data)
{
  auto &loss = *static_cast<Loss *> (data);
  if (!loss.on.load ())
    return GST_PAD_PROBE_OK;
  return loss.count++ % 10 < 3 ? GST_PAD_PROBE_DROP : GST_PAD_PROBE_OK;
}

// Adds drop_some to every nicesink inside bin; how many.
int
add_loss (GstElement *bin, Loss *loss)
{
  int n = 0;
  GstIterator *it = gst_bin_iterate_recurse (GST_BIN (bin));
  GValue item = G_VALUE_INIT;
  while (gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
    auto *e = GST_ELEMENT (g_value_get_object (&item));
    GstElementFactory *f = gst_element_get_factory (e);
    if (f && std::strcmp (GST_OBJECT_NAME (f), "nicesink") == 0) {
      GstPad *pad = gst_element_get_static_pad (e, "sink");
      gst_pad_add_probe (pad, (GstPadProbeType) (GST_PAD_PROBE_TYPE_BUFFER |
          GST_PAD_PROBE_TYPE_BUFFER_LIST), drop_some, loss, nullptr);
      gst_object_unref (pad);
      n++;
    }
    g_value_reset (&item);
  }
  g_value_unset (&item);
  gst_iterator_free (it);
  return n;
}

// The int field of every consumer's stats, in the order of the stats.
std::vector<int>
consumer_ints (GstElement *sink, const char *field)
{
  std::vector<int> out;
  GstStructure *stats = nullptr;
  g_object_get (sink, "stats", &stats, nullptr);
  if (!stats)
    return out;
  for (int i = 0; i < gst_structure_n_fields (stats); i++) {
    const GValue *v = gst_structure_get_value (stats, gst_structure_nth_field_name (stats, i));
    if (!GST_VALUE_HOLDS_STRUCTURE (v))
      continue;
    int x = -2;
    gst_structure_get_int (gst_value_get_structure (v), field, &x);
    out.push_back (x);
  }
  gst_structure_free (stats);
  return out;
}

class LadderLoopback : public rtcstream::test::StreamingTest {};

TEST_F (LadderLoopback, AViewerSwitchedToASmallerRenditionGetsOneContinuousRtpStream)
{
  const std::string link = "loopback://ladder-switch";
  auto prod = start_producer ("videotestsrc is-live=true ! "
      "video/x-raw,width=640,height=360,framerate=30/1 ! rtcstreamsink name=sink uri=" + link,
      kTimeoutMs);
  GstElement *sink = prod->element ("sink");
  Consumers consumers;
  g_signal_connect (sink, "consumer-added", G_CALLBACK (on_consumer_added), &consumers);
  auto first = rtcstream::test::start_consumer ("rtcstreamsrc uri=" + link + " ! fakesink name=v");
  auto v1 = first->count ("v");
  ASSERT_TRUE (first->wait_for ([&] { return v1->frames >= 30; }, kTimeoutMs))
      << first->all_errors () << prod->all_errors ();
  auto second = rtcstream::test::start_consumer ("rtcstreamsrc uri=" + link + " ! fakesink name=v");
  auto v2 = second->count ("v");
  ASSERT_TRUE (second->wait_for ([&] { return v2->frames >= 30; }, kTimeoutMs))
      << second->all_errors () << prod->all_errors ();
  GstElement *thin;
  std::shared_ptr<RtpLog> log;
  {
    std::lock_guard<std::mutex> lk (consumers.lock);
    ASSERT_EQ (consumers.webrtcbins.size (), 2u);
    thin = consumers.webrtcbins[1];
    log = consumers.logs[1];
  }
  Loss loss;
  ASSERT_GT (add_loss (thin, &loss), 0);
  loss.on = true;
  // The thin consumer moves down the ladder; the other one stays on top.
  auto moved = [&] {
    std::vector<int> r = consumer_ints (sink, "rendition");
    return r.size () == 2 && std::min (r[0], r[1]) == 0 && std::max (r[0], r[1]) > 0;
  };
  bool ok = false;
  for (int i = 0; i < 60 && !ok; i++) {
    first->pump (250);
    second->pump (250);
    ok = moved ();
  }
  loss.on = false;
  ASSERT_TRUE (ok) << "renditions: " << ::testing::PrintToString (consumer_ints (sink, "rendition"));
  int before = v2->frames;
  ASSERT_TRUE (second->wait_for ([&] { return v2->frames >= before + 30; }, kTimeoutMs))
      << second->all_errors ();
  EXPECT_NE (v2->caps_string ().find ("width=(int)320"), std::string::npos) << v2->caps_string ();
  EXPECT_NE (v1->caps_string ().find ("width=(int)640"), std::string::npos) << v1->caps_string ();
  EXPECT_EQ (rtcstream::test::stats_uint (sink, "encoders"), 2u);

  std::lock_guard<std::mutex> lk (log->lock);
  ASSERT_GT (log->seqnums.size (), 100u);
  size_t gaps = 0, backwards = 0;
  for (size_t i = 1; i < log->seqnums.size (); i++) {
    if ((guint16) (log->seqnums[i - 1] + 1) != log->seqnums[i])
      gaps++;
    if ((gint32) (log->timestamps[i] - log->timestamps[i - 1]) < 0)
      backwards++;
    EXPECT_EQ (log->ssrcs[i], log->ssrcs[0]);
  }
  EXPECT_EQ (gaps, 0u) << log->seqnums.size () << " packets";
  EXPECT_EQ (backwards, 0u);
  EXPECT_TRUE (first->errors ().empty ()) << first->all_errors ();
  EXPECT_TRUE (second->errors ().empty ()) << second->all_errors ();
  EXPECT_TRUE (prod->errors ().empty ()) << prod->all_errors ();
}

// A malformed video-ladder is an error at start that names it, and a good
// value set after it clears it.
TEST_F (LadderLoopback, BadLadderIsAnErrorAtStart)
{
  for (const char *ladder : {"2,4", "1,4,2", "1:fast"}) {
    auto prod = std::make_unique<Pipeline> (std::string ("videotestsrc is-live=true ! "
        "rtcstreamsink uri=loopback://bad-ladder video-ladder=") + ladder);
    ASSERT_TRUE (prod->ok ()) << prod->parse_error ();
    prod->play ();
    EXPECT_TRUE (prod->wait_for ([&] { return !prod->errors ().empty (); }, kTimeoutMs)) << ladder;
    EXPECT_TRUE (prod->has_error_containing (std::string ("video-ladder \"") + ladder +
        "\" is not a ladder")) << ladder << ": " << prod->all_errors ();
  }
  auto prod = start_producer ("videotestsrc is-live=true ! rtcstreamsink "
      "name=sink uri=loopback://good-ladder video-ladder=2 video-ladder=1,3", kTimeoutMs);
  EXPECT_TRUE (prod->errors ().empty ()) << prod->all_errors ();
  gchar *value = nullptr;
  g_object_get (prod->element ("sink"), "video-ladder", &value, nullptr);
  EXPECT_STREQ (value, "1,3");
  g_free (value);
}

}  // namespace
