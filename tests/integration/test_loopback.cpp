// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Element behaviour with no server: an rtcstreamsink and rtcstreamsrcs of
// this process paired by the loopback signaller (uri=loopback://LINK). Real
// pipelines, real webrtcbins (ICE on this host, DTLS-SRTP, RTP); only the
// signalling is in memory, so each test takes a second or two. The same
// behaviours through the real server are in test_streaming.cpp.
#include <gst/gst.h>
#include <gst/video/video.h>
#include <gst/webrtc/webrtc.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "harness.h"
#include "rtcstream/abs-capture-time.h"
#include "rtcstream/signallers/loopback-signaller.h"

using rtcstream::test::kVideo;
using rtcstream::test::Pipeline;
using rtcstream::test::start_producer;
using rtcstream::test::stats_uint;

namespace {

// A bound on every wait, never reached when things work.
constexpr int kTimeoutMs = 15000;

class Loopback : public rtcstream::test::StreamingTest {
protected:
  void SetUp () override
  {
    StreamingTest::SetUp ();
    if (IsSkipped () || HasFatalFailure ())
      return;
    // One link per test: the registry is process-wide.
    link = std::string ("loopback://") +
        ::testing::UnitTest::GetInstance ()->current_test_info ()->name ();
  }

  std::unique_ptr<Pipeline> producer (const std::string &desc)
  {
    return start_producer (desc, kTimeoutMs);
  }

  std::unique_ptr<Pipeline> consumer (const std::string &desc)
  {
    return rtcstream::test::start_consumer (desc);
  }

  std::string sink (const std::string &extra = "")
  {
    return "rtcstreamsink name=sink uri=" + link + " " + extra;
  }

  std::string src (const std::string &extra = "")
  {
    return "rtcstreamsrc name=src uri=" + link + " " + extra;
  }

  std::string link;
};

// Each webrtcbin inside `bin` (references: gst_object_unref each).
std::vector<GstElement *>
webrtcbins_inside (GstElement *bin)
{
  std::vector<GstElement *> found;
  GstIterator *it = gst_bin_iterate_recurse (GST_BIN (bin));
  GValue item = G_VALUE_INIT;
  while (gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
    auto *e = GST_ELEMENT (g_value_get_object (&item));
    GstElementFactory *f = gst_element_get_factory (e);
    if (f && std::strcmp (GST_OBJECT_NAME (f), "webrtcbin") == 0)
      found.push_back (GST_ELEMENT (gst_object_ref (e)));
    g_value_reset (&item);
  }
  g_value_unset (&item);
  gst_iterator_free (it);
  return found;
}

// A boolean property of the libnice agent of each webrtcbin inside `bin`
// (true where the agent cannot be read): "upnp", whether it searches for a
// UPnP router (libnice's default is yes; sessions turn it off), or
// "ice-tcp", whether it gathers TCP candidates (libnice's and webrtcbin's
// default is yes; the elements' ice-tcp, no).
std::vector<bool>
agent_flags (GstElement *bin, const char *property)
{
  std::vector<bool> flags;
  for (GstElement *e : webrtcbins_inside (bin)) {
    GstObject *ice = nullptr;
    g_object_get (e, "ice-agent", &ice, nullptr);
    GObject *agent = nullptr;
    if (ice && g_object_class_find_property (G_OBJECT_GET_CLASS (ice), "agent"))
      g_object_get (ice, "agent", &agent, nullptr);
    gboolean on = TRUE;
    if (agent && g_object_class_find_property (G_OBJECT_GET_CLASS (agent), property))
      g_object_get (agent, property, &on, nullptr);
    flags.push_back (on);
    if (agent)
      g_object_unref (agent);
    if (ice)
      gst_object_unref (ice);
    gst_object_unref (e);
  }
  return flags;
}

TEST_F (Loopback, VideoArrivesDecoded)
{
  auto prod = producer (kVideo + " ! " + sink ());
  auto cons = consumer (src () + " ! fakesink name=v");
  auto v = cons->count ("v");
  EXPECT_TRUE (cons->wait_for ([&] { return v->frames >= 30; }, kTimeoutMs))
      << v->frames << "\n" << cons->all_errors () << prod->all_errors ();
  std::string caps = v->caps_string ();
  EXPECT_EQ (caps.rfind ("video/x-raw", 0), 0u) << caps;
  EXPECT_NE (caps.find ("width=(int)320"), std::string::npos) << caps;
  EXPECT_NE (caps.find ("height=(int)240"), std::string::npos) << caps;
  EXPECT_EQ (stats_uint (prod->element ("sink"), "consumers"), 1u);
  EXPECT_TRUE (cons->errors ().empty ()) << cons->all_errors ();
  // Nobody asked for router port mappings: no session searches the LAN.
  for (GstElement *e : { prod->element ("sink"), cons->element ("src") })
    EXPECT_EQ (agent_flags (e, "upnp"), std::vector<bool> { false }) << GST_OBJECT_NAME (e);
  // ICE over TCP is off unless asked for (ice-tcp).
  for (GstElement *e : { prod->element ("sink"), cons->element ("src") })
    EXPECT_EQ (agent_flags (e, "ice-tcp"), std::vector<bool> { false }) << GST_OBJECT_NAME (e);
}

// ice-tcp=true on both ends: their ICE agents gather TCP candidates too, and
// the stream still plays (over whichever pair ICE nominates).
TEST_F (Loopback, IceTcpWhenAskedForStillPlays)
{
  auto prod = producer (kVideo + " ! " + sink ("ice-tcp=true"));
  auto cons = consumer (src ("ice-tcp=true") + " ! fakesink name=v");
  auto v = cons->count ("v");
  EXPECT_TRUE (cons->wait_for ([&] { return v->frames >= 30; }, kTimeoutMs))
      << v->frames << "\n" << cons->all_errors () << prod->all_errors ();
  for (GstElement *e : { prod->element ("sink"), cons->element ("src") })
    EXPECT_EQ (agent_flags (e, "ice-tcp"), std::vector<bool> { true }) << GST_OBJECT_NAME (e);
  EXPECT_TRUE (cons->errors ().empty ()) << cons->all_errors ();
}

TEST_F (Loopback, VideoAndAudioArriveDecoded)
{
  auto prod = producer (kVideo + " ! " + sink () + " audiotestsrc is-live=true ! sink.audio_0");
  auto cons = consumer (src () + " src. ! video/x-raw ! queue ! fakesink name=v "
      "src. ! audio/x-raw ! queue ! fakesink name=a");
  auto v = cons->count ("v");
  auto a = cons->count ("a");
  EXPECT_TRUE (cons->wait_for ([&] { return v->frames >= 30 && a->frames >= 30; }, kTimeoutMs))
      << "video " << v->frames << " audio " << a->frames << "\n" << cons->all_errors ();
  EXPECT_EQ (v->caps_string ().rfind ("video/x-raw", 0), 0u) << v->caps_string ();
  EXPECT_EQ (a->caps_string ().rfind ("audio/x-raw", 0), 0u) << a->caps_string ();
  EXPECT_TRUE (cons->errors ().empty ()) << cons->all_errors ();
}

// Two viewers agreeing on VP8 share one encoder; when one leaves, the sink's
// stats lose it and the other carries on.
TEST_F (Loopback, TwoConsumersShareOneEncoder)
{
  auto prod = producer (kVideo + " ! " + sink ());
  auto one = consumer (src () + " ! fakesink name=v");
  auto two = consumer (src () + " ! fakesink name=v");
  auto v1 = one->count ("v");
  auto v2 = two->count ("v");
  EXPECT_TRUE (one->wait_for ([&] { return v1->frames >= 20 && v2->frames >= 20; }, kTimeoutMs))
      << v1->frames << " " << v2->frames << one->all_errors () << two->all_errors ();
  GstElement *s = prod->element ("sink");
  EXPECT_EQ (stats_uint (s, "consumers"), 2u);
  EXPECT_EQ (stats_uint (s, "encoders"), 1u) << "consumers agreeing on VP8 share one encoder";

  one->stop ();
  EXPECT_TRUE (prod->wait_for ([&] { return stats_uint (s, "consumers") == 1u; }, kTimeoutMs));
  const int before = v2->frames;
  EXPECT_TRUE (two->wait_for ([&] { return v2->frames >= before + 20; }, kTimeoutMs))
      << "the remaining consumer stalled";
  EXPECT_EQ (stats_uint (s, "encoders"), 1u);
  EXPECT_TRUE (prod->errors ().empty ()) << prod->all_errors ();
}

// Pre-encoded video on a link that carries it (here, the loopback) is not
// said to be too big for its viewer (the netsim suite has the thin link).
TEST_F (Loopback, PreEncodedVideoOnAWideLinkIsNotSaidTooBig)
{
  if (!rtcstream::test::have ("x264enc"))
    GTEST_SKIP () << "x264enc is missing";
  auto prod = producer ("videotestsrc is-live=true ! video/x-raw,width=640,height=360,framerate=30/1 ! "
      "x264enc tune=zerolatency speed-preset=ultrafast bitrate=2000 key-int-max=30 ! "
      "video/x-h264,profile=constrained-baseline ! " + sink ());
  auto cons = consumer (src () + " ! fakesink name=v");
  auto v = cons->count ("v");
  EXPECT_TRUE (cons->wait_for ([&] { return v->frames >= 150; }, kTimeoutMs * 2))
      << v->frames << cons->all_errors () << prod->all_errors ();
  EXPECT_FALSE (prod->has_warning_containing ("cannot re-encode")) << prod->all_errors ();
  EXPECT_GT (stats_uint (prod->element ("sink"), "consumers"), 0u);
}

// Pre-encoded video whose upstream ignores keyframe requests (a camera's
// stream; a relay whose producer holds requests back): a viewer that joins
// mid-stream starts with the frames since the last keyframe rather than
// waiting for the next one, which here never comes (the encoder makes one
// at its start only). The first viewer's group and the second viewer's
// branch of it both start so.
TEST_F (Loopback, ViewersOfPassedThroughVideoStartMidStream)
{
  auto prod = producer (kVideo + " ! vp8enc name=enc deadline=1 keyframe-max-dist=100000 ! " +
      sink ());
  GstPad *enc_src = gst_element_get_static_pad (prod->element ("enc"), "src");
  gst_pad_add_probe (enc_src, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM,
      [] (GstPad *, GstPadProbeInfo *info, gpointer) -> GstPadProbeReturn {
        return gst_video_event_is_force_key_unit (GST_PAD_PROBE_INFO_EVENT (info))
            ? GST_PAD_PROBE_DROP : GST_PAD_PROBE_OK;
      }, nullptr, nullptr);
  gst_object_unref (enc_src);
  auto encoded = prod->count ("enc");
  ASSERT_TRUE (prod->wait_for ([&] { return encoded->frames >= 15; }, kTimeoutMs))
      << prod->all_errors ();

  auto one = consumer (src () + " ! fakesink name=v");
  auto v1 = one->count ("v");
  EXPECT_TRUE (one->wait_for ([&] { return v1->frames >= 10; }, kTimeoutMs))
      << v1->frames << one->all_errors () << prod->all_errors ();
  auto two = consumer (src () + " ! fakesink name=v");
  auto v2 = two->count ("v");
  EXPECT_TRUE (two->wait_for ([&] { return v2->frames >= 10; }, kTimeoutMs))
      << v2->frames << two->all_errors () << prod->all_errors ();
  EXPECT_EQ (stats_uint (prod->element ("sink"), "consumers"), 2u);
  EXPECT_EQ (v2->caps_string ().rfind ("video/x-raw", 0), 0u) << v2->caps_string ();
}

// The SDP text of the local description of each webrtcbin inside `bin`.
std::string
local_sdp_of_webrtcbins (GstElement *bin)
{
  std::string sdp;
  for (GstElement *e : webrtcbins_inside (bin)) {
    GstWebRTCSessionDescription *desc = nullptr;
    g_object_get (e, "local-description", &desc, nullptr);
    if (desc) {
      gchar *text = gst_sdp_message_as_text (desc->sdp);
      sdp += text;
      g_free (text);
      gst_webrtc_session_description_free (desc);
    }
    gst_object_unref (e);
  }
  return sdp;
}

// rtcstreamsrc answers as the DTLS server (a=setup:passive): the server is
// done with the handshake first, so the producer's media, sent once its end
// (the client's, done last) is up, finds the keys to decrypt it, and never
// fills a thin link ahead of the handshake's last flight (sdp.h).
TEST_F (Loopback, TheReceiverAnswersAsTheDtlsServer)
{
  auto prod = producer (kVideo + " ! " + sink ());
  auto viewer = consumer (src () + " ! fakesink name=v");
  auto v = viewer->count ("v");
  EXPECT_TRUE (viewer->wait_for ([&] { prod->pump (0); return v->frames >= 5; }, kTimeoutMs))
      << viewer->all_errors () << prod->all_errors ();
  const std::string answer = local_sdp_of_webrtcbins (viewer->element ("src"));
  EXPECT_NE (answer.find ("a=setup:passive"), std::string::npos) << answer;
  EXPECT_EQ (answer.find ("a=setup:active"), std::string::npos) << answer;
}

// The session state a stats structure reports ("connected", ...).
std::string
session_state (GstElement *element)
{
  GstStructure *stats = nullptr;
  g_object_get (element, "stats", &stats, nullptr);
  std::string state = stats && gst_structure_get_string (stats, "state")
      ? gst_structure_get_string (stats, "state") : "";
  if (stats)
    gst_structure_free (stats);
  return state;
}

// A relay (rtcstreamsrc ! encoded caps ! rtcstreamsink, as the server's WHEP
// sessions are) answers its own viewers once its source knows the codec,
// before any media: here the producer's encoder gives its caps but not one
// frame, and the relay's viewer still gets its session (before, it waited
// for the relay's first packet, here for ever).
TEST_F (Loopback, RelayAnswersItsViewersBeforeItsFirstPacket)
{
  Pipeline prod (kVideo + " ! vp8enc name=enc deadline=1 ! " + sink ());
  ASSERT_TRUE (prod.ok ()) << prod.parse_error ();
  GstPad *enc_src = gst_element_get_static_pad (prod.element ("enc"), "src");
  gst_pad_add_probe (enc_src, GST_PAD_PROBE_TYPE_BUFFER,
      [] (GstPad *, GstPadProbeInfo *, gpointer) { return GST_PAD_PROBE_DROP; }, nullptr,
      nullptr);
  gst_object_unref (enc_src);
  prod.play ();
  ASSERT_TRUE (prod.wait_registered (kTimeoutMs)) << prod.all_errors ();

  const std::string relay_link = link + "-relay";
  auto relay = consumer (src () + " ! video/x-vp8 ! rtcstreamsink name=relay uri=" + relay_link);
  auto viewer = consumer ("rtcstreamsrc name=viewer uri=" + relay_link + " ! fakesink name=v");
  auto v = viewer->count ("v");
  EXPECT_TRUE (viewer->wait_for ([&] {
    relay->pump (0);
    return session_state (viewer->element ("viewer")) == "connected";
  }, kTimeoutMs)) << session_state (viewer->element ("viewer")) << viewer->all_errors ()
                  << relay->all_errors ();
  EXPECT_EQ (stats_uint (relay->element ("relay"), "consumers"), 1u);
  EXPECT_EQ (v->frames, 0);  // no media anywhere: the answer did not wait for it
}

// The sink sends each frame's capture time (the abs-capture-time header
// extension, from the frame's running time on the pipeline clock), and
// rtcstreamsrc's frames carry it out (a timestamp/x-ntp reference
// timestamp meta), through the encoder and the decoder: on one host, now
// minus that time is the glass-to-glass latency so far.
TEST_F (Loopback, CaptureTimeTravelsWithEachFrame)
{
  auto prod = producer (kVideo + " ! " + sink ());
  auto cons = consumer (src () + " ! fakesink name=v");
  std::mutex lock;
  std::vector<double> ages_ms;
  int without = 0;
  auto v = cons->count ("v", [&] (GstBuffer *buf, GstCaps *) {
    const GstClockTime t = rtcstream::buffer_capture_time (buf);
    std::lock_guard<std::mutex> lk (lock);
    if (GST_CLOCK_TIME_IS_VALID (t))
      ages_ms.push_back ((double) GST_CLOCK_DIFF (t, rtcstream::ntp_now ()) / GST_MSECOND);
    else
      without++;
  });
  ASSERT_TRUE (cons->wait_for ([&] { return v->frames >= 30; }, kTimeoutMs)) << cons->all_errors ();
  std::lock_guard<std::mutex> lk (lock);
  EXPECT_EQ (without, 0);
  ASSERT_FALSE (ages_ms.empty ());
  std::sort (ages_ms.begin (), ages_ms.end ());
  const double median = ages_ms[ages_ms.size () / 2];
  // Captured before it came out, and not seconds before: the value itself
  // is for the benchmark (bench/netsim.sh g2g), not for a test.
  EXPECT_GT (median, 0.0);
  EXPECT_LT (median, 2000.0);
  // The element's stats say the same.
  GstStructure *stats = nullptr;
  g_object_get (cons->element ("src"), "stats", &stats, nullptr);
  gint age = -1;
  ASSERT_TRUE (stats && gst_structure_get_int (stats, "capture-age", &age));
  gst_structure_free (stats);
  EXPECT_GE (age, 0);
  EXPECT_LT (age, 2000);
}

// A live source's latency is not waited for before sending: webrtcbin's
// clocksync would hold each frame until its running time plus the upstream
// latency, which at 2 frames a second is videotestsrc's 500 ms (at 30 fps,
// 33 ms of every viewer's glass-to-glass). The session holds a frame only
// as long as its frames usually take to be encoded (send-pace.h), so the
// capture age as frames leave the viewer is the encoder's, the link's and
// the viewer's own delay. (The clocksync learns the latency when the
// producer's pipeline computes it again with the consumer's branch in
// place, as gst-launch-1.0 does on the LATENCY messages that elements post;
// done here by hand, at once, so that every frame counted was sent after
// it. With webrtcbin's own wait, measured before 014b15e: a median of
// 502 ms.)
TEST_F (Loopback, ALiveSourcesLatencyIsNotWaitedForBeforeSending)
{
  auto prod = producer ("videotestsrc is-live=true ! "
      "video/x-raw,width=320,height=240,framerate=2/1 ! " + sink ());
  auto cons = consumer (src () + " ! fakesink name=v");
  std::mutex lock;
  std::vector<double> ages_ms;
  bool counting = false;
  auto v = cons->count ("v", [&] (GstBuffer *buf, GstCaps *) {
    const GstClockTime t = rtcstream::buffer_capture_time (buf);
    std::lock_guard<std::mutex> lk (lock);
    if (counting && GST_CLOCK_TIME_IS_VALID (t))
      ages_ms.push_back ((double) GST_CLOCK_DIFF (t, rtcstream::ntp_now ()) / GST_MSECOND);
  });
  ASSERT_TRUE (cons->wait_for ([&] { return v->frames >= 1; }, kTimeoutMs)) << cons->all_errors ();
  ASSERT_TRUE (gst_bin_recalculate_latency (GST_BIN (prod->get ())));
  {
    std::lock_guard<std::mutex> lk (lock);
    counting = true;
  }
  ASSERT_TRUE (cons->wait_for ([&] {
    std::lock_guard<std::mutex> lk (lock);
    return ages_ms.size () >= 8;
  }, kTimeoutMs)) << cons->all_errors ();
  std::lock_guard<std::mutex> lk (lock);
  std::sort (ages_ms.begin (), ages_ms.end ());
  const double median = ages_ms[ages_ms.size () / 2];
  std::cout << "capture age at 2 fps (source latency 500 ms): median " << median << " ms of "
            << ages_ms.size () << " frames" << std::endl;
  EXPECT_LT (median, 250.0);
}

// The sink offers the playout-delay extension on video; rtcstreamsrc's
// webrtcbin keeps it in its answer, so the sink sends it with the values of
// its properties (its stats say what it asks for); -1 leaves it out.
TEST_F (Loopback, PlayoutDelayIsNegotiatedAndSent)
{
  auto prod = producer (kVideo + " ! " + sink ("playout-delay-min=30 playout-delay-max=200"));
  auto cons = consumer (src () + " ! fakesink name=v");
  auto v = cons->count ("v");
  ASSERT_TRUE (cons->wait_for ([&] { return v->frames >= 10; }, kTimeoutMs)) << cons->all_errors ();
  EXPECT_EQ (rtcstream::test::consumer_stats_strings (prod->element ("sink"), "playout-delay"),
      std::vector<std::string> {"30,200"});
  prod.reset ();
  cons.reset ();

  link += "-off";
  auto off = producer (kVideo + " ! " + sink ("playout-delay-max=-1"));
  auto cons_off = consumer (src () + " ! fakesink name=v");
  auto v_off = cons_off->count ("v");
  ASSERT_TRUE (cons_off->wait_for ([&] { return v_off->frames >= 10; }, kTimeoutMs))
      << cons_off->all_errors ();
  EXPECT_EQ (rtcstream::test::consumer_stats_strings (off->element ("sink"), "playout-delay"),
      std::vector<std::string> {""});
}

// The adaptive playout delay (the default, latency=-1) on a clean
// loopback: the target in the stats stays within a frame of nothing (below
// 20 ms: here a few ms), and every frame plays, to a sink that syncs and
// drops what comes more than 20 ms late, as a video sink does (its QoS
// also makes the decoder drop frames that would be late): the delay is
// not so low that pictures come late.
// Half the samples at least, over 4 s: a busy machine may delay a packet
// now and then, which raises the target for a moment, as it should.
TEST_F (Loopback, AdaptivePlayoutDelayStaysLowOnACleanLink)
{
  auto prod = producer (kVideo + " ! " + sink ());
  auto cons = consumer (src () +
      " ! fakesink name=v sync=true qos=true max-lateness=20000000");
  auto v = cons->count ("v");
  ASSERT_TRUE (cons->wait_for ([&] { return v->frames >= 30; }, kTimeoutMs))
      << cons->all_errors ();
  GstElement *e = cons->element ("src");
  GstStructure *s = nullptr;
  g_object_get (e, "stats", &s, nullptr);
  ASSERT_TRUE (s);
  gboolean adaptive = FALSE;
  EXPECT_TRUE (gst_structure_get_boolean (s, "latency-adaptive", &adaptive) && adaptive)
      << gst_structure_to_string (s);
  // Nothing lost on loopback: no retransmissions asked for (with NACK the
  // jitterbuffer would give up on packets only late).
  gboolean asked = TRUE;
  guint64 lost = 1;
  EXPECT_TRUE (gst_structure_get_boolean (s, "retransmissions-asked", &asked));
  if (gst_structure_get_uint64 (s, "packets-lost", &lost) && lost == 0) {
    EXPECT_FALSE (asked) << gst_structure_to_string (s);
  }
  gst_structure_free (s);

  const guint64 frames_before = v->frames;
  std::vector<unsigned> targets;
  // What set each: target/largest delay/95th percentile of in-order
  // delays, N while retransmissions are asked for.
  std::string all;
  for (int i = 0; i < 16; i++) {
    cons->wait_for ([] { return false; }, 250);
    GstStructure *st = nullptr;
    g_object_get (e, "stats", &st, nullptr);
    ASSERT_TRUE (st);
    guint target = 0, largest = 0, p95 = 0;
    gboolean nack = FALSE;
    gst_structure_get (st, "latency", G_TYPE_UINT, &target, "network-delay", G_TYPE_UINT,
        &largest, "network-delay-p95", G_TYPE_UINT, &p95, "retransmissions-asked",
        G_TYPE_BOOLEAN, &nack, nullptr);
    gst_structure_free (st);
    targets.push_back (target);
    all += std::to_string (target) + "/" + std::to_string (largest) + "/" +
        std::to_string (p95) + (nack ? "N " : " ");
  }
  const guint64 frames = v->frames - frames_before;
  std::vector<unsigned> sorted = targets;
  std::sort (sorted.begin (), sorted.end ());
  EXPECT_LT (sorted[sorted.size () / 2], 20u) << "targets (ms, target/largest/p95): " << all;
  // 30 fps for 4 s, less what the waits between samples may take.
  EXPECT_GE (frames, 96u) << frames << " frames; targets (ms, target/largest/p95): " << all;
  EXPECT_TRUE (cons->errors ().empty ()) << cons->all_errors ();
}

// The sink starts the encoder of the codec it prefers with its offer; a
// consumer that takes another codec gets that one, and the early encoder
// goes once the answer is linked.
TEST_F (Loopback, EarlyEncoderOfAnotherCodecGoes)
{
  if (!rtcstream::test::have ("x264enc"))
    GTEST_SKIP () << "x264enc missing";
  auto prod = producer (kVideo + " ! " + sink ("video-codecs=VP8,H264"));
  auto cons = consumer (src ("video-codecs=H264") + " ! fakesink name=v");
  auto v = cons->count ("v");
  ASSERT_TRUE (cons->wait_for ([&] { return v->frames >= 10; }, kTimeoutMs)) << cons->all_errors ();
  GstElement *s = prod->element ("sink");
  EXPECT_EQ (rtcstream::test::consumer_codecs (s), std::vector<std::string> {"H264"});
  EXPECT_TRUE (prod->wait_for ([&] {
    return stats_uint (s, "encoder-groups") == 1u && stats_uint (s, "encoders") == 1u;
  }, kTimeoutMs)) << "groups " << stats_uint (s, "encoder-groups") << ", encoders "
                  << stats_uint (s, "encoders") << ": the early VP8 encoder stayed";
  cons->stop ();
  EXPECT_TRUE (prod->wait_for ([&] { return stats_uint (s, "encoder-groups") == 0u; },
      kTimeoutMs));
  EXPECT_TRUE (prod->errors ().empty ()) << prod->all_errors ();
}

// prepare-encoder (the default): raw video's first encoder is set up before
// any consumer, takes no pictures while nobody watches, encodes for the
// consumer that takes it, and another is set up once that one has left.
// With prepare-encoder=false there is none.
TEST_F (Loopback, APreparedEncoderIsReadyBeforeTheFirstConsumer)
{
  auto prod = producer (kVideo + " ! " + sink ());
  GstElement *s = prod->element ("sink");
  EXPECT_TRUE (prod->wait_for ([&] { return stats_uint (s, "prepared-encoders") == 1u; },
      kTimeoutMs));
  EXPECT_EQ (stats_uint (s, "encoders"), 0u) << "a prepared encoder is not running";
  EXPECT_EQ (stats_uint (s, "encoder-groups"), 0u);
  auto cons = consumer (src () + " ! fakesink name=v");
  auto v = cons->count ("v");
  ASSERT_TRUE (cons->wait_for ([&] { return v->frames >= 10; }, kTimeoutMs)) << cons->all_errors ();
  EXPECT_EQ (stats_uint (s, "encoders"), 1u);
  EXPECT_EQ (stats_uint (s, "prepared-encoders"), 0u) << "the consumer took the prepared one";
  cons->stop ();
  EXPECT_TRUE (prod->wait_for ([&] {
    return stats_uint (s, "encoders") == 0u && stats_uint (s, "prepared-encoders") == 1u;
  }, kTimeoutMs)) << "encoders " << stats_uint (s, "encoders") << ", prepared "
                  << stats_uint (s, "prepared-encoders");
  EXPECT_TRUE (prod->errors ().empty ()) << prod->all_errors ();

  const std::string other = link + "-off";
  auto off = producer (kVideo + " ! rtcstreamsink name=sink prepare-encoder=false uri=" + other);
  GstElement *so = off->element ("sink");
  auto watcher = consumer ("rtcstreamsrc uri=" + other + " ! fakesink name=w");
  auto w = watcher->count ("w");
  ASSERT_TRUE (watcher->wait_for ([&] { return w->frames >= 10; }, kTimeoutMs))
      << watcher->all_errors ();
  EXPECT_EQ (stats_uint (so, "prepared-encoders"), 0u);
  EXPECT_EQ (stats_uint (so, "encoders"), 1u);
}

// The widths of the pictures a counted sink got, each new one once, in
// order: fed by the inspect function of Pipeline::count (its streaming
// thread writes, the test reads).
struct Widths {
  std::mutex lock;
  std::vector<int> seen;
  void add (GstCaps *caps)
  {
    gint width = 0;
    if (caps && !gst_caps_is_empty (caps))
      gst_structure_get_int (gst_caps_get_structure (caps, 0), "width", &width);
    std::lock_guard<std::mutex> lk (lock);
    if (seen.empty () || seen.back () != width)
      seen.push_back (width);
  }
  std::vector<int> get ()
  {
    std::lock_guard<std::mutex> lk (lock);
    return seen;
  }
};

std::string
widths_text (const std::vector<int> &w)
{
  std::string text;
  for (int x : w)
    text += std::to_string (x) + " ";
  return text;
}

// A viewer's encoder starts at the picture size its bitrate carries, from
// its first picture: by the floors (300 kbit/s does not carry 720p: 640x360),
// and by what an earlier viewer's encoder showed the content needs at each
// size (the snow in videotestsrc's default picture costs VP8 about 1.5
// Mbit/s at 720p: at the 1 Mbit/s start the first viewer drops frames until
// its picture steps down; the next one starts smaller).
TEST_F (Loopback, AViewersEncoderStartsAtTheSizeItsBitrateCarries)
{
  const std::string hd = "videotestsrc is-live=true ! video/x-raw,width=1280,height=720,framerate=30/1";
  {
    auto prod = producer (hd + " ! " + sink ("start-bitrate=300000"));
    auto cons = consumer (src () + " ! fakesink name=v");
    auto widths = std::make_shared<Widths> ();
    auto v = cons->count ("v", [widths] (GstBuffer *, GstCaps *caps) { widths->add (caps); });
    ASSERT_TRUE (cons->wait_for ([&] { return v->frames >= 10; }, kTimeoutMs))
        << cons->all_errors ();
    ASSERT_FALSE (widths->get ().empty ());
    EXPECT_EQ (widths->get ().front (), 640) << widths_text (widths->get ());
  }
  const std::string other = link + "-learnt";
  auto prod = producer (hd + " ! rtcstreamsink name=sink uri=" + other);
  auto first = consumer ("rtcstreamsrc uri=" + other + " ! fakesink name=v");
  auto first_widths = std::make_shared<Widths> ();
  first->count ("v", [first_widths] (GstBuffer *, GstCaps *caps) { first_widths->add (caps); });
  ASSERT_TRUE (first->wait_for ([&] {
    auto w = first_widths->get ();
    return w.size () >= 2 && w.back () < 1280;
  }, kTimeoutMs)) << "the first viewer's pictures: " << widths_text (first_widths->get ())
                  << first->all_errors ();
  EXPECT_EQ (first_widths->get ().front (), 1280) << "nothing learnt yet: the input's size";
  first->stop ();
  GstElement *s = prod->element ("sink");
  ASSERT_TRUE (prod->wait_for ([&] { return stats_uint (s, "consumers") == 0u; }, kTimeoutMs));
  auto next = consumer ("rtcstreamsrc uri=" + other + " ! fakesink name=v");
  auto next_widths = std::make_shared<Widths> ();
  auto n = next->count ("v", [next_widths] (GstBuffer *, GstCaps *caps) { next_widths->add (caps); });
  ASSERT_TRUE (next->wait_for ([&] { return n->frames >= 10; }, kTimeoutMs))
      << next->all_errors ();
  ASSERT_FALSE (next_widths->get ().empty ());
  EXPECT_LT (next_widths->get ().front (), 1280)
      << "the next viewer's pictures: " << widths_text (next_widths->get ())
      << "; the first viewer's: " << widths_text (first_widths->get ());
  EXPECT_TRUE (prod->errors ().empty ()) << prod->all_errors ();
}

TEST_F (Loopback, LeavingConsumerIsRemovedFromTheSinksStats)
{
  auto prod = producer (kVideo + " ! " + sink ());
  auto cons = consumer (src () + " ! fakesink name=v");
  auto v = cons->count ("v");
  ASSERT_TRUE (cons->wait_for ([&] { return v->frames >= 10; }, kTimeoutMs)) << cons->all_errors ();
  GstElement *s = prod->element ("sink");
  EXPECT_EQ (stats_uint (s, "consumers"), 1u);
  cons->stop ();
  EXPECT_TRUE (prod->wait_for ([&] {
    return stats_uint (s, "consumers") == 0u && stats_uint (s, "encoders") == 0u;
  }, kTimeoutMs)) << "consumers " << stats_uint (s, "consumers") << " encoders "
                  << stats_uint (s, "encoders");
  EXPECT_TRUE (prod->errors ().empty ()) << prod->all_errors ();
}

TEST_F (Loopback, ProducerEosReachesConsumers)
{
  auto prod = producer ("videotestsrc is-live=true num-buffers=45 ! "
      "video/x-raw,width=320,height=240,framerate=30/1 ! " + sink ());
  auto cons = consumer (src () + " ! fakesink name=v");
  auto v = cons->count ("v");
  EXPECT_TRUE (prod->wait_for ([&] { return prod->got_eos (); }, kTimeoutMs));
  EXPECT_TRUE (cons->wait_for ([&] { return cons->got_eos (); }, kTimeoutMs));
  EXPECT_GT (v->frames.load (), 0) << "EOS came before any frame";
  EXPECT_TRUE (cons->errors ().empty ()) << cons->all_errors ();
}

TEST_F (Loopback, StoppedProducerEndsEveryConsumer)
{
  auto prod = producer (kVideo + " ! " + sink ());
  auto one = consumer (src () + " ! fakesink name=v");
  auto two = consumer (src () + " ! fakesink name=v");
  auto v1 = one->count ("v");
  auto v2 = two->count ("v");
  ASSERT_TRUE (one->wait_for ([&] { return v1->frames >= 10 && v2->frames >= 10; }, kTimeoutMs));
  prod->stop ();
  EXPECT_TRUE (one->wait_for ([&] { return one->got_eos (); }, kTimeoutMs));
  EXPECT_TRUE (two->wait_for ([&] { return two->got_eos (); }, kTimeoutMs));
  EXPECT_TRUE (one->errors ().empty ()) << one->all_errors ();
  EXPECT_TRUE (two->errors ().empty ()) << two->all_errors ();
}

TEST_F (Loopback, ConsumerStartedBeforeTheProducer)
{
  auto cons = consumer (src () + " ! fakesink name=v");
  auto v = cons->count ("v");
  // It waits (no pad, no error) until the producer comes.
  cons->pump (500);
  EXPECT_EQ (v->frames.load (), 0);
  EXPECT_TRUE (cons->errors ().empty ()) << cons->all_errors ();
  auto prod = producer (kVideo + " ! " + sink ());
  EXPECT_TRUE (cons->wait_for ([&] { return v->frames >= 20; }, kTimeoutMs))
      << v->frames << "\n" << cons->all_errors ();
}

// A consumer may start again and rejoin; the producer's stats follow.
TEST_F (Loopback, ConsumerRestartsAndRejoins)
{
  auto prod = producer (kVideo + " ! " + sink ());
  auto cons = consumer (src () + " ! fakesink name=v");
  auto v = cons->count ("v");
  ASSERT_TRUE (cons->wait_for ([&] { return v->frames >= 10; }, kTimeoutMs));
  GstElement *s = prod->element ("sink");
  cons->stop ();
  ASSERT_TRUE (prod->wait_for ([&] { return stats_uint (s, "consumers") == 0u; }, kTimeoutMs));
  const int before = v->frames;
  // gst-launch's delayed link was for the first pad only: link the new one.
  g_signal_connect (cons->element ("src"), "pad-added", G_CALLBACK (+[] (GstElement *,
      GstPad *pad, gpointer fakesink) {
    g_autoptr (GstPad) sinkpad = gst_element_get_static_pad (GST_ELEMENT (fakesink), "sink");
    gst_pad_link (pad, sinkpad);
  }), cons->element ("v"));
  cons->play ();
  EXPECT_TRUE (cons->wait_for ([&] { return v->frames >= before + 10; }, kTimeoutMs))
      << cons->all_errors ();
  EXPECT_EQ (stats_uint (s, "consumers"), 1u);
}

TEST_F (Loopback, SecondProducerOnALinkIsAnError)
{
  auto first = producer (kVideo + " ! " + sink ());
  auto second = std::make_unique<Pipeline> (kVideo + " ! " + sink ());
  ASSERT_TRUE (second->ok ());
  second->play ();
  EXPECT_TRUE (second->wait_for ([&] { return !second->errors ().empty (); }, kTimeoutMs));
  EXPECT_TRUE (second->has_error_containing ("Another producer already uses loopback link"))
      << second->all_errors ();
  // The first one is undisturbed.
  auto cons = consumer (src () + " ! fakesink name=v");
  auto v = cons->count ("v");
  EXPECT_TRUE (cons->wait_for ([&] { return v->frames >= 10; }, kTimeoutMs)) << cons->all_errors ();
  EXPECT_TRUE (first->errors ().empty ()) << first->all_errors ();
}

TEST_F (Loopback, NoProducerIsAnErrorAfterProducerTimeout)
{
  auto cons = consumer (src ("producer-timeout=300") + " ! fakesink");
  EXPECT_TRUE (cons->wait_for ([&] { return !cons->errors ().empty (); }, kTimeoutMs));
  EXPECT_TRUE (cons->has_error_containing ("No producer on loopback link")) << cons->all_errors ();
}

TEST_F (Loopback, BadUriIsAnErrorAtStart)
{
  for (const char *uri : {"loopback://", "loopback://a/b", "loopback://%zz"}) {
    auto cons = consumer (std::string ("rtcstreamsrc uri=") + uri + " ! fakesink");
    EXPECT_TRUE (cons->wait_for ([&] { return !cons->errors ().empty (); }, kTimeoutMs)) << uri;
    EXPECT_TRUE (cons->has_error_containing ("Expected loopback://LINK")) << uri << ": "
        << cons->all_errors ();
  }
}

// Signallers an application makes itself (the C API) pair the same way.
TEST_F (Loopback, ApplicationMadeSignallers)
{
  std::string name = link.substr (strlen ("loopback://"));
  auto prod = std::make_unique<Pipeline> (kVideo + " ! rtcstreamsink name=sink");
  auto cons = std::make_unique<Pipeline> ("rtcstreamsrc name=src ! fakesink name=v");
  ASSERT_TRUE (prod->ok () && cons->ok ());
  g_autoptr (RtcstreamLoopbackSignaller) p =
      rtcstream_loopback_signaller_new (RTCSTREAM_ROLE_PRODUCER, name.c_str ());
  g_autoptr (RtcstreamLoopbackSignaller) c =
      rtcstream_loopback_signaller_new (RTCSTREAM_ROLE_CONSUMER, name.c_str ());
  g_object_set (prod->element ("sink"), "signaller", p, nullptr);
  g_object_set (cons->element ("src"), "signaller", c, nullptr);
  cons->play ();
  prod->play ();
  auto v = cons->count ("v");
  EXPECT_TRUE (cons->wait_for ([&] { return v->frames >= 10; }, kTimeoutMs)) << cons->all_errors ();
  EXPECT_TRUE (prod->wait_registered (kTimeoutMs)) << prod->all_errors ();
}

}  // namespace
