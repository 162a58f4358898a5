// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Real pipelines through the real rtcstream-signalling process on 127.0.0.1:
// real ICE, DTLS-SRTP and RTP between a producer and its consumers.
#include <gst/gst.h>
#include <glib/gstdio.h>
#include <gst/video/video.h>
#include <gst/video/navigation.h>
#include <libsoup/soup.h>
#include <signal.h>
#include <sys/wait.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <mutex>
#include <memory>
#include <string>
#include <vector>

#include "harness.h"

using rtcstream::test::die_with_parent;
using rtcstream::test::have;
using rtcstream::test::kVideo;
using rtcstream::test::free_port;
using rtcstream::test::Pipeline;
using rtcstream::test::start_producer;
using rtcstream::test::ServerProcess;
using rtcstream::test::consumer_codecs;
using rtcstream::test::stats_uint;

namespace {

constexpr int kTimeoutMs = 20000;

class Streaming : public rtcstream::test::ServerStreamingTest {
protected:
  // A producer, started and registered.
  std::unique_ptr<Pipeline> producer (const std::string &desc)
  {
    return start_producer (desc, kTimeoutMs);
  }

  std::unique_ptr<Pipeline> consumer (const std::string &desc)
  {
    return rtcstream::test::start_consumer (desc);
  }

  std::string sink_to (const std::string &stream, const std::string &extra = "")
  {
    return "rtcstreamsink name=sink uri=" + server->uri (stream) + " " + extra;
  }
};

TEST_F (Streaming, VideoAndAudioArriveDecoded)
{
  auto prod = producer (kVideo + " ! " + sink_to ("cam") +
      " audiotestsrc is-live=true ! sink.audio_0");
  auto cons = consumer ("rtcstreamsrc name=src uri=" + server->uri ("cam") +
      " src. ! queue ! fakesink name=v src. ! queue ! fakesink name=a");
  // Pads appear dynamically; count after they are linked.
  ASSERT_TRUE (cons->wait_for ([&] {
    return cons->element ("v") && cons->element ("a");
  }, 1000));
  auto v = cons->count ("v");
  auto a = cons->count ("a");
  EXPECT_TRUE (cons->wait_for ([&] { return v->frames >= 60 && a->frames >= 50; }, kTimeoutMs))
      << "video " << v->frames << " audio " << a->frames << "\n" << cons->all_errors ();
  std::string vc = v->caps_string (), ac = a->caps_string ();
  // gst-launch links each pad to the first fakesink that accepts it; the two
  // branches see one video and one audio stream between them.
  std::string both = vc + " " + ac;
  EXPECT_NE (both.find ("video/x-raw"), std::string::npos) << both;
  EXPECT_NE (both.find ("width=(int)320"), std::string::npos) << both;
  EXPECT_NE (both.find ("height=(int)240"), std::string::npos) << both;
  EXPECT_NE (both.find ("audio/x-raw"), std::string::npos) << both;
  EXPECT_TRUE (cons->errors ().empty ()) << cons->all_errors ();
}

// Each video codec, chosen by the consumer's preference among those offered.
class Codecs : public Streaming, public ::testing::WithParamInterface<const char *> {};

TEST_P (Codecs, VideoArrivesInThatCodec)
{
  const std::string codec = GetParam ();
  if (codec == "H264" && !have ("x264enc"))
    GTEST_SKIP () << "x264enc missing";
  auto prod = producer (kVideo + " ! " + sink_to ("cam"));
  auto cons = consumer ("rtcstreamsrc video-codecs=" + codec + " uri=" + server->uri ("cam") +
      " ! fakesink name=v");
  auto v = cons->count ("v");
  EXPECT_TRUE (cons->wait_for ([&] { return v->frames >= 45; }, kTimeoutMs))
      << v->frames << " frames\n" << cons->all_errors ();
  EXPECT_NE (v->caps_string ().find ("width=(int)320"), std::string::npos) << v->caps_string ();
  prod->pump (100);
  auto codecs = consumer_codecs (prod->element ("sink"));
  ASSERT_EQ (codecs.size (), 1u);
  EXPECT_EQ (codecs[0], codec);
}

TEST_P (Codecs, EncodedOutputWhenDownstreamAsks)
{
  const std::string codec = GetParam ();
  if (codec == "H264" && !have ("x264enc"))
    GTEST_SKIP () << "x264enc missing";
  std::string caps = codec == "VP8" ? "video/x-vp8" : codec == "VP9" ? "video/x-vp9" : "video/x-h264";
  auto prod = producer (kVideo + " ! " + sink_to ("cam"));
  auto cons = consumer ("rtcstreamsrc video-codecs=" + codec + " uri=" + server->uri ("cam") +
      " ! " + caps + " ! fakesink name=v");
  auto v = cons->count ("v");
  EXPECT_TRUE (cons->wait_for ([&] { return v->frames >= 30; }, kTimeoutMs))
      << v->frames << "\n" << cons->all_errors ();
  EXPECT_EQ (v->caps_string ().rfind (caps, 0), 0u) << v->caps_string ();
}

INSTANTIATE_TEST_SUITE_P (Video, Codecs, ::testing::Values ("VP8", "H264", "VP9"));

TEST_F (Streaming, KnownPatternSurvivesTheTrip)
{
  // Solid red: BT.601 Y~81 U~90 V~240 after decoding, whatever the codec did.
  auto prod = producer ("videotestsrc is-live=true pattern=solid-color foreground-color=0xffff0000 "
      "! video/x-raw,width=320,height=240,framerate=30/1 ! " + sink_to ("red"));
  auto cons = consumer ("rtcstreamsrc uri=" + server->uri ("red") +
      " ! video/x-raw,format=I420 ! fakesink name=v");
  auto good = std::make_shared<std::atomic<int>> (0), bad = std::make_shared<std::atomic<int>> (0);
  auto v = cons->count ("v", [good, bad] (GstBuffer *buf, GstCaps *caps) {
    GstVideoInfo info;
    if (!caps || !gst_video_info_from_caps (&info, caps))
      return;
    GstVideoFrame frame;
    if (!gst_video_frame_map (&frame, &info, buf, GST_MAP_READ))
      return;
    int x = info.width / 2, y = info.height / 2;
    auto px = [&] (int plane, int px, int py) {
      const guint8 *d = static_cast<const guint8 *> (GST_VIDEO_FRAME_PLANE_DATA (&frame, plane));
      return (int) d[py * GST_VIDEO_FRAME_PLANE_STRIDE (&frame, plane) + px];
    };
    int Y = px (0, x, y), U = px (1, x / 2, y / 2), V = px (2, x / 2, y / 2);
    if (std::abs (Y - 81) < 20 && std::abs (U - 90) < 20 && std::abs (V - 240) < 20)
      (*good)++;
    else
      (*bad)++;
    gst_video_frame_unmap (&frame);
  });
  EXPECT_TRUE (cons->wait_for ([&] { return *good >= 30; }, kTimeoutMs))
      << "good " << *good << " bad " << *bad << "\n" << cons->all_errors ();
  EXPECT_LE (bad->load (), 2);
}

TEST_F (Streaming, PreEncodedInputIsNotReencoded)
{
  if (!have ("x264enc"))
    GTEST_SKIP () << "x264enc missing";
  auto prod = producer (kVideo + " ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 "
      "! video/x-h264,profile=constrained-baseline ! " + sink_to ("h264") +
      " audiotestsrc is-live=true ! opusenc ! sink.audio_0");
  auto cons = consumer ("rtcstreamsrc name=src uri=" + server->uri ("h264") +
      " src. ! queue ! fakesink name=v src. ! queue ! fakesink name=a");
  ASSERT_TRUE (cons->wait_for ([&] { return cons->element ("v") != nullptr; }, 1000));
  auto v = cons->count ("v");
  auto a = cons->count ("a");
  EXPECT_TRUE (cons->wait_for ([&] { return v->frames >= 45 && a->frames >= 30; }, kTimeoutMs))
      << v->frames << " " << a->frames << "\n" << cons->all_errors ();
  GstElement *sink = prod->element ("sink");
  EXPECT_EQ (stats_uint (sink, "consumers"), 1u);
  EXPECT_EQ (stats_uint (sink, "encoders"), 0u) << "encoded input must pass through";
  auto codecs = consumer_codecs (sink);
  ASSERT_EQ (codecs.size (), 1u);
  EXPECT_EQ (codecs[0], "H264,OPUS");
}

TEST_F (Streaming, PreEncodedVp8Input)
{
  auto prod = producer (kVideo + " ! vp8enc deadline=1 keyframe-max-dist=30 ! " + sink_to ("vp8"));
  auto cons = consumer ("rtcstreamsrc uri=" + server->uri ("vp8") + " ! fakesink name=v");
  auto v = cons->count ("v");
  EXPECT_TRUE (cons->wait_for ([&] { return v->frames >= 45; }, kTimeoutMs)) << cons->all_errors ();
  EXPECT_EQ (stats_uint (prod->element ("sink"), "encoders"), 0u);
}

// N consumers, one encoder; one leaves, the others carry on.
void
many_consumers (Streaming *t, ServerProcess &server,
    const std::function<std::unique_ptr<Pipeline> (const std::string &)> &start_producer,
    const std::function<std::unique_ptr<Pipeline> (const std::string &)> &start_consumer, int n)
{
  auto prod = start_producer (kVideo + " ! rtcstreamsink name=sink uri=" + server.uri ("cam"));
  std::vector<std::unique_ptr<Pipeline>> cons;
  std::vector<std::shared_ptr<rtcstream::test::FrameCounter>> counts;
  for (int i = 0; i < n; i++) {
    cons.push_back (start_consumer ("rtcstreamsrc uri=" + server.uri ("cam") +
        " ! video/x-vp8 ! fakesink name=v"));
    counts.push_back (cons.back ()->count ("v"));
  }
  for (int i = 0; i < n; i++) {
    EXPECT_TRUE (cons[i]->wait_for ([&] { return counts[i]->frames >= 20; }, kTimeoutMs))
        << "consumer " << i << ": " << counts[i]->frames << " " << cons[i]->all_errors ();
  }
  GstElement *sink = prod->element ("sink");
  EXPECT_EQ (stats_uint (sink, "consumers"), (unsigned) n);
  EXPECT_EQ (stats_uint (sink, "encoders"), 1u) << "consumers agreeing on VP8 share one encoder";

  // The first consumer leaves.
  cons[0]->stop ();
  EXPECT_TRUE (prod->wait_for ([&] { return stats_uint (sink, "consumers") == (unsigned) n - 1; },
      kTimeoutMs));
  for (int i = 1; i < n; i++) {
    int before = counts[i]->frames;
    EXPECT_TRUE (cons[i]->wait_for ([&] { return counts[i]->frames >= before + 20; }, kTimeoutMs))
        << "consumer " << i << " stalled after another left";
  }
  EXPECT_EQ (stats_uint (sink, "encoders"), 1u);
  EXPECT_TRUE (prod->errors ().empty ()) << prod->all_errors ();
  (void) t;
}

TEST_F (Streaming, TwoConsumersShareOneEncoder)
{
  many_consumers (this, *server, [this] (const std::string &d) { return producer (d); },
      [this] (const std::string &d) { return consumer (d); }, 2);
}

TEST_F (Streaming, FiveConsumersShareOneEncoder)
{
  many_consumers (this, *server, [this] (const std::string &d) { return producer (d); },
      [this] (const std::string &d) { return consumer (d); }, 5);
}

TEST_F (Streaming, ConsumersOfDifferentCodecsGetAnEncoderEach)
{
  if (!have ("x264enc"))
    GTEST_SKIP () << "x264enc missing";
  auto prod = producer (kVideo + " ! " + sink_to ("cam"));
  auto c1 = consumer ("rtcstreamsrc video-codecs=VP8 uri=" + server->uri ("cam") + " ! fakesink name=v");
  auto c2 = consumer ("rtcstreamsrc video-codecs=H264 uri=" + server->uri ("cam") + " ! fakesink name=v");
  auto v1 = c1->count ("v");
  auto v2 = c2->count ("v");
  EXPECT_TRUE (c1->wait_for ([&] { return v1->frames >= 20; }, kTimeoutMs));
  EXPECT_TRUE (c2->wait_for ([&] { return v2->frames >= 20; }, kTimeoutMs));
  EXPECT_EQ (stats_uint (prod->element ("sink"), "encoders"), 2u);
  // The H264 consumer leaves: its encoder goes with it.
  c2->stop ();
  EXPECT_TRUE (prod->wait_for ([&] {
    return stats_uint (prod->element ("sink"), "encoders") == 1u;
  }, kTimeoutMs));
  int before = v1->frames;
  EXPECT_TRUE (c1->wait_for ([&] { return v1->frames >= before + 20; }, kTimeoutMs));
}

TEST_F (Streaming, ProducerEndingGivesConsumersEos)
{
  auto prod = producer (kVideo + " ! " + sink_to ("cam"));
  auto cons = consumer ("rtcstreamsrc uri=" + server->uri ("cam") + " ! fakesink name=v");
  auto v = cons->count ("v");
  ASSERT_TRUE (cons->wait_for ([&] { return v->frames >= 20; }, kTimeoutMs));
  prod->stop ();
  EXPECT_TRUE (cons->wait_for ([&] { return cons->got_eos (); }, kTimeoutMs));
  EXPECT_TRUE (cons->errors ().empty ()) << cons->all_errors ();
}

TEST_F (Streaming, InputEosEndsSessionsAndPipeline)
{
  auto prod = producer ("videotestsrc is-live=true num-buffers=150 ! "
      "video/x-raw,width=320,height=240,framerate=30/1 ! " + sink_to ("cam"));
  auto cons = consumer ("rtcstreamsrc uri=" + server->uri ("cam") + " ! fakesink name=v");
  auto v = cons->count ("v");
  ASSERT_TRUE (cons->wait_for ([&] { return v->frames >= 10; }, kTimeoutMs)) << cons->all_errors ();
  EXPECT_TRUE (prod->wait_for ([&] { return prod->got_eos (); }, kTimeoutMs));
  EXPECT_TRUE (cons->wait_for ([&] { return cons->got_eos (); }, kTimeoutMs));
}

TEST_F (Streaming, ConsumerWaitsForLateProducer)
{
  auto cons = consumer ("rtcstreamsrc uri=" + server->uri ("late") + " ! fakesink name=v");
  cons->pump (1500);
  auto prod = producer (kVideo + " ! " + sink_to ("late"));
  auto v = cons->count ("v");
  EXPECT_TRUE (cons->wait_for ([&] { return v->frames >= 20; }, kTimeoutMs)) << cons->all_errors ();
}

TEST_F (Streaming, PlaybinPlaysRtcstreamUri)
{
  auto prod = producer (kVideo + " ! " + sink_to ("cam"));
  auto play = consumer ("playbin uri=" + server->uri ("cam") +
      " video-sink=\"fakesink name=v\" audio-sink=fakesink");
  GstElement *vsink = nullptr;
  g_object_get (play->get (), "video-sink", &vsink, nullptr);
  ASSERT_NE (vsink, nullptr);
  auto v = play->count (vsink);
  gst_object_unref (vsink);
  EXPECT_TRUE (play->wait_for ([&] { return play->reached_playing () && v->frames >= 30; },
      kTimeoutMs)) << "playing " << play->reached_playing () << " frames " << v->frames
                   << "\n" << play->all_errors ();
}

TEST_F (Streaming, UnlinkedAudioPadDoesNotStopVideo)
{
  auto prod = producer (kVideo + " ! " + sink_to ("av") + " audiotestsrc is-live=true ! sink.audio_0");
  auto cons = consumer ("rtcstreamsrc name=src uri=" + server->uri ("av") +
      " ! video/x-raw ! fakesink name=v");
  auto v = cons->count ("v");
  EXPECT_TRUE (cons->wait_for ([&] { return v->frames >= 90 || !cons->errors ().empty (); },
      kTimeoutMs));
  EXPECT_GE (v->frames.load (), 90) << cons->all_errors ();
  EXPECT_TRUE (cons->errors ().empty ()) << cons->all_errors ();
}

TEST_F (Streaming, EosSentToConsumerDrainsIt)
{
  auto prod = producer (kVideo + " ! " + sink_to ("cam"));
  auto cons = consumer ("rtcstreamsrc name=src uri=" + server->uri ("cam") + " ! fakesink name=v");
  auto v = cons->count ("v");
  ASSERT_TRUE (cons->wait_for ([&] { return v->frames >= 20; }, kTimeoutMs));
  gst_element_send_event (cons->get (), gst_event_new_eos ());
  EXPECT_TRUE (cons->wait_for ([&] { return cons->got_eos (); }, kTimeoutMs));
  // The producer sees the consumer go.
  EXPECT_TRUE (prod->wait_for ([&] { return stats_uint (prod->element ("sink"), "consumers") == 0; },
      kTimeoutMs));
}

TEST_F (Streaming, ConsumerStatsCountBytes)
{
  auto prod = producer (kVideo + " ! " + sink_to ("cam"));
  auto cons = consumer ("rtcstreamsrc name=src uri=" + server->uri ("cam") + " ! fakesink name=v");
  auto v = cons->count ("v");
  ASSERT_TRUE (cons->wait_for ([&] { return v->frames >= 10; }, kTimeoutMs));
  guint64 bytes = 0;
  EXPECT_TRUE (cons->wait_for ([&] {
    GstStructure *s = nullptr;
    g_object_get (cons->element ("src"), "stats", &s, nullptr);
    if (s) {
      gst_structure_get_uint64 (s, "bytes-received", &bytes);
      gst_structure_free (s);
    }
    return bytes > 1000;
  }, kTimeoutMs)) << bytes;
  // The producer's side counts what it sent.
  guint64 sent = 0;
  EXPECT_TRUE (prod->wait_for ([&] {
    GstStructure *s = nullptr;
    g_object_get (prod->element ("sink"), "stats", &s, nullptr);
    for (gint i = 0; s && i < gst_structure_n_fields (s); i++) {
      const GValue *val = gst_structure_get_value (s, gst_structure_nth_field_name (s, i));
      if (GST_VALUE_HOLDS_STRUCTURE (val))
        gst_structure_get_uint64 (gst_value_get_structure (val), "bytes-sent", &sent);
    }
    if (s)
      gst_structure_free (s);
    return sent > 1000;
  }, kTimeoutMs)) << sent;
}

TEST_F (Streaming, ConsumerSignalsAndAppSignaller)
{
  // The application makes the signaller itself and hands it to the element.
  auto prod = std::make_unique<Pipeline> (kVideo + " ! rtcstreamsink name=sink");
  ASSERT_TRUE (prod->ok ());
  GstElement *sink = prod->element ("sink");
  GType ws = g_type_from_name ("RtcstreamWsSignaller");
  ASSERT_NE (ws, (GType) 0);
  GObject *sig = G_OBJECT (g_object_new (ws, "uri", server->ws_url ().c_str (),
      "stream-name", "app", nullptr));
  g_object_set (sink, "signaller", sig, nullptr);
  g_object_unref (sig);

  // Written on the element's worker thread, read only once it is stopped.
  struct Seen {
    std::vector<std::string> added, removed;
  };
  auto seen = std::make_shared<Seen> ();
  auto record = [] (GstElement *, const gchar *peer, GstElement *webrtc, gpointer data) {
    auto *v = static_cast<std::vector<std::string> *> (data);
    if (GST_IS_ELEMENT (webrtc))
      v->push_back (peer);
  };
  g_signal_connect (sink, "consumer-added", G_CALLBACK (+record), &seen->added);
  g_signal_connect (sink, "consumer-removed", G_CALLBACK (+record), &seen->removed);
  prod->play ();
  ASSERT_TRUE (prod->wait_for ([&] { return prod->got_element_message ("rtcstream-registered"); },
      kTimeoutMs)) << prod->all_errors ();

  auto cons = consumer ("rtcstreamsrc uri=" + server->uri ("app") + " ! fakesink name=v");
  auto v = cons->count ("v");
  EXPECT_TRUE (cons->wait_for ([&] { return v->frames >= 20; }, kTimeoutMs)) << cons->all_errors ();
  cons->stop ();
  EXPECT_TRUE (prod->wait_for ([&] { return stats_uint (sink, "consumers") == 0; }, kTimeoutMs));
  prod->pump (200);
  prod->stop ();  // no handler may run after this: the vectors stay ours
  EXPECT_EQ (seen->added.size (), 1u);
  EXPECT_EQ (seen->removed.size (), 1u);
  if (!seen->added.empty () && !seen->removed.empty ()) {
    EXPECT_EQ (seen->added[0], seen->removed[0]);
  }
}

// An application releases a request pad of rtcstreamsink while it plays to
// two viewers (one encoder per input): the released input leaves every
// session and its encoder goes, the viewers' sessions stay, the other input
// keeps flowing into the sink's encoder, and a viewer that joins afterwards
// gets it. (Releasing used to free the input under the consumers' and
// encoders' feet.) Not asserted: that the two viewers keep decoding video.
// Once the audio source stops (released or not: the same happens when the
// source is only unlinked and stopped) their video often stalls on the
// receiving side; see the note on issue 8.
TEST_F (Streaming, ReleasingASinkPadWhilePlayingKeepsTheRest)
{
  auto prod = producer ("videotestsrc name=vsrc is-live=true ! "
      "video/x-raw,width=320,height=240,framerate=30/1 ! " + sink_to ("cam") +
      " audiotestsrc name=asrc is-live=true ! sink.audio_0");
  GstElement *sink = prod->element ("sink");
  auto one = consumer ("rtcstreamsrc name=src uri=" + server->uri ("cam") +
      " src. ! queue ! fakesink name=v src. ! queue ! fakesink name=a");
  auto two = consumer ("rtcstreamsrc name=src uri=" + server->uri ("cam") +
      " src. ! queue ! fakesink name=v src. ! queue ! fakesink name=a");
  ASSERT_TRUE (one->wait_for ([&] { return one->element ("v") && one->element ("a"); }, 1000));
  auto v1 = one->count ("v");
  auto v2 = two->count ("v");
  ASSERT_TRUE (one->wait_for ([&] { return v1->frames >= 30 && v2->frames >= 30; }, kTimeoutMs))
      << v1->frames << " " << v2->frames << one->all_errors () << two->all_errors ();
  EXPECT_EQ (stats_uint (sink, "encoders"), 2u);

  // Release audio_0 from the application thread, as an app unplugging a
  // microphone does: unlink, stop the source, release.
  GstElement *asrc = prod->element ("asrc");
  g_autoptr (GstPad) apad = gst_element_get_static_pad (sink, "audio_0");
  ASSERT_NE (apad, nullptr);
  gst_element_unlink (asrc, sink);
  gst_element_set_locked_state (asrc, TRUE);
  gst_element_set_state (asrc, GST_STATE_NULL);
  gst_element_release_request_pad (sink, apad);
  EXPECT_TRUE (prod->wait_for ([&] { return stats_uint (sink, "encoders") == 1; }, kTimeoutMs))
      << "the released input's encoder must go";
  g_autoptr (GstPad) gone = gst_element_get_static_pad (sink, "audio_0");
  EXPECT_EQ (gone, nullptr);
  EXPECT_EQ (stats_uint (sink, "consumers"), 2u) << "the viewers' sessions stay";

  auto late = consumer ("rtcstreamsrc uri=" + server->uri ("cam") + " ! fakesink name=v");
  auto v3 = late->count ("v");
  EXPECT_TRUE (late->wait_for ([&] { return v3->frames >= 30; }, kTimeoutMs))
      << v3->frames << late->all_errors ();
  EXPECT_EQ (stats_uint (sink, "consumers"), 3u);
  EXPECT_TRUE (prod->errors ().empty ()) << prod->all_errors ();
  EXPECT_TRUE (one->errors ().empty () && two->errors ().empty ())
      << one->all_errors () << two->all_errors ();
}

TEST_F (Streaming, KilledConsumerIsRemovedOthersCarryOn)
{
  auto prod = producer (kVideo + " ! " + sink_to ("cam"));
  auto stays = consumer ("rtcstreamsrc uri=" + server->uri ("cam") + " ! fakesink name=v");
  auto v = stays->count ("v");
  ASSERT_TRUE (stays->wait_for ([&] { return v->frames >= 20; }, kTimeoutMs));
  // A second consumer in its own process, killed without any goodbye.
  std::string uri = "uri=" + server->uri ("cam");
  const char *argv[] = {"gst-launch-1.0", "-q", "rtcstreamsrc", uri.c_str (), "!", "fakesink",
      nullptr};
  GPid pid = 0;
  ASSERT_TRUE (g_spawn_async (nullptr, const_cast<char **> (argv), nullptr,
      (GSpawnFlags) (G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD), die_with_parent, nullptr, &pid,
      nullptr));
  GstElement *sink = prod->element ("sink");
  EXPECT_TRUE (prod->wait_for ([&] { return stats_uint (sink, "consumers") == 2; }, kTimeoutMs));
  kill (pid, SIGKILL);
  int status;
  waitpid (pid, &status, 0);
  g_spawn_close_pid (pid);
  EXPECT_TRUE (prod->wait_for ([&] { return stats_uint (sink, "consumers") == 1; }, kTimeoutMs));
  int before = v->frames;
  EXPECT_TRUE (stays->wait_for ([&] { return v->frames >= before + 30; }, kTimeoutMs));
  EXPECT_TRUE (prod->errors ().empty ()) << prod->all_errors ();
}

TEST_F (Streaming, GarbageFromAnotherClientDisturbsNothing)
{
  auto prod = producer (kVideo + " ! " + sink_to ("cam"));
  auto cons = consumer ("rtcstreamsrc uri=" + server->uri ("cam") + " ! fakesink name=v");
  auto v = cons->count ("v");
  ASSERT_TRUE (cons->wait_for ([&] { return v->frames >= 20; }, kTimeoutMs));

  // A raw websocket client on the default main context, which wait_for pumps.
  SoupSession *session = soup_session_new ();
  SoupMessage *msg = soup_message_new ("GET", server->ws_url ().c_str ());
  SoupWebsocketConnection *ws = nullptr;
  soup_session_websocket_connect_async (session, msg, nullptr, nullptr, G_PRIORITY_DEFAULT,
      nullptr, [] (GObject *src, GAsyncResult *res, gpointer out) {
        *static_cast<SoupWebsocketConnection **> (out) =
            soup_session_websocket_connect_finish (SOUP_SESSION (src), res, nullptr);
      }, &ws);
  ASSERT_TRUE (cons->wait_for ([&] { return ws != nullptr; }, kTimeoutMs));
  auto errors = std::make_shared<int> (0);
  g_signal_connect_data (ws, "message", G_CALLBACK (+[] (SoupWebsocketConnection *, gint,
      GBytes *bytes, gpointer data) {
        gsize n;
        const char *text = static_cast<const char *> (g_bytes_get_data (bytes, &n));
        if (std::string (text, n).find ("\"error\"") != std::string::npos)
          (*static_cast<std::shared_ptr<int> *> (data)->get ())++;
      }), new std::shared_ptr<int> (errors),
      [] (gpointer data, GClosure *) { delete static_cast<std::shared_ptr<int> *> (data); },
      (GConnectFlags) 0);
  const char *garbage[] = {"not json", "{\"type\":42}", "{\"type\":\"teleport\"}",
      "{\"type\":\"peer\",\"sessionId\":\"nope\",\"ice\":{\"candidate\":\"x\",\"sdpMLineIndex\":0}}",
      "{\"type\":\"startSession\",\"peerId\":\"nobody\"}", "[1,2,3]"};
  for (const char *g : garbage)
    soup_websocket_connection_send_text (ws, g);
  std::string big (300 * 1024, 'x');
  soup_websocket_connection_send_text (ws, big.c_str ());
  EXPECT_TRUE (cons->wait_for ([&] { return *errors >= 7; }, kTimeoutMs)) << *errors << " errors";
  int before = v->frames;
  EXPECT_TRUE (cons->wait_for ([&] { return v->frames >= before + 30; }, kTimeoutMs));
  EXPECT_TRUE (server->alive ());
  EXPECT_TRUE (cons->errors ().empty ()) << cons->all_errors ();
  EXPECT_TRUE (prod->errors ().empty ()) << prod->all_errors ();
  soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_NORMAL, nullptr);
  cons->pump (100);
  g_object_unref (ws);
  g_object_unref (msg);
  g_object_unref (session);
}

// rtcstreams://: the server on wss:// with a self-signed certificate that the
// elements are told to trust; without it they refuse to connect.
TEST_F (Streaming, TlsSignalling)
{
  g_autofree gchar *dir = g_dir_make_tmp ("rtcstream-tls-XXXXXX", nullptr);
  ASSERT_NE (dir, nullptr);
  std::string cert, key;
  ASSERT_TRUE (rtcstream::test::make_test_certificate (dir, cert, key))
      << "openssl could not make a test certificate";
  ServerProcess tls ({"--cert", cert, "--key", key});
  ASSERT_TRUE (tls.ok ());
  const std::string ca = " tls-ca-file=" + cert;
  auto prod = producer (kVideo + " ! rtcstreamsink name=sink uri=" + tls.uri ("cam", "rtcstreams") + ca);
  auto cons = consumer ("rtcstreamsrc uri=" + tls.uri ("cam", "rtcstreams") + ca +
      " ! fakesink name=v");
  auto v = cons->count ("v");
  EXPECT_TRUE (cons->wait_for ([&] { return v->frames >= 20; }, kTimeoutMs)) << cons->all_errors ();

  auto untrusting = consumer ("rtcstreamsrc uri=" + tls.uri ("cam", "rtcstreams") + " ! fakesink");
  EXPECT_TRUE (untrusting->wait_for ([&] { return !untrusting->errors ().empty (); }, kTimeoutMs));
  EXPECT_TRUE (untrusting->has_error_containing ("set tls-ca-file")) << untrusting->all_errors ();
  untrusting.reset ();
  cons.reset ();
  prod.reset ();
  g_unlink (cert.c_str ());
  g_unlink (key.c_str ());
  g_rmdir (dir);
}

// --- errors a person can act on --------------------------------------------------

TEST_F (Streaming, UnreachableServerIsAnError)
{
  auto p = std::make_unique<Pipeline> (kVideo + " ! rtcstreamsink uri=rtcstream://127.0.0.1:1/cam");
  p->play ();
  EXPECT_TRUE (p->wait_for ([&] { return !p->errors ().empty (); }, kTimeoutMs));
  EXPECT_TRUE (p->has_error_containing ("Could not connect to the signalling server"))
      << p->all_errors ();
}

TEST_F (Streaming, TakenStreamNameIsAnError)
{
  auto first = producer (kVideo + " ! " + sink_to ("cam"));
  auto second = std::make_unique<Pipeline> (kVideo + " ! " + sink_to ("cam"));
  second->play ();
  EXPECT_TRUE (second->wait_for ([&] { return !second->errors ().empty (); }, kTimeoutMs));
  EXPECT_TRUE (second->has_error_containing ("already published")) << second->all_errors ();
  // The first one is unaffected.
  auto cons = consumer ("rtcstreamsrc uri=" + server->uri ("cam") + " ! fakesink name=v");
  auto v = cons->count ("v");
  EXPECT_TRUE (cons->wait_for ([&] { return v->frames >= 20; }, kTimeoutMs));
}

TEST_F (Streaming, MissingStreamIsAnErrorAfterTimeout)
{
  auto cons = consumer ("rtcstreamsrc producer-timeout=500 uri=" + server->uri ("nobody") +
      " ! fakesink");
  EXPECT_TRUE (cons->wait_for ([&] { return !cons->errors ().empty (); }, kTimeoutMs));
  EXPECT_TRUE (cons->has_error_containing ("No stream named 'nobody'")) << cons->all_errors ();
}

TEST_F (Streaming, NoCommonCodecIsReported)
{
  auto prod = producer (kVideo + " ! " + sink_to ("cam", "video-codecs=VP9"));
  auto cons = consumer ("rtcstreamsrc video-codecs=VP8 uri=" + server->uri ("cam") + " ! fakesink");
  EXPECT_TRUE (cons->wait_for ([&] { return !cons->errors ().empty (); }, kTimeoutMs));
  EXPECT_TRUE (cons->has_error_containing ("Negotiation with the producer failed"))
      << cons->all_errors ();
  EXPECT_TRUE (cons->has_error_containing ("it offers VP9 for video")) << cons->all_errors ();
  // The producer stays up for other consumers.
  EXPECT_TRUE (prod->errors ().empty ()) << prod->all_errors ();
  auto ok = consumer ("rtcstreamsrc uri=" + server->uri ("cam") + " ! fakesink name=v");
  auto v = ok->count ("v");
  EXPECT_TRUE (ok->wait_for ([&] { return v->frames >= 20; }, kTimeoutMs)) << ok->all_errors ();
}

TEST_F (Streaming, BadUriIsAnErrorAtStart)
{
  auto p = std::make_unique<Pipeline> (kVideo + " ! rtcstreamsink uri=http://127.0.0.1/cam");
  EXPECT_EQ (p->play (), GST_STATE_CHANGE_FAILURE);
  p->pump (100);
  EXPECT_TRUE (p->has_error_containing ("Unsupported URI scheme 'http'")) << p->all_errors ();
}

TEST_F (Streaming, UnknownCodecIsAnErrorAtStart)
{
  auto p = std::make_unique<Pipeline> (kVideo + " ! rtcstreamsink video-codecs=VP7 uri=" +
      server->uri ("cam"));
  EXPECT_EQ (p->play (), GST_STATE_CHANGE_FAILURE);
  p->pump (100);
  EXPECT_TRUE (p->has_error_containing ("Unknown video codec 'VP7'")) << p->all_errors ();
}

TEST_F (Streaming, MissingUriIsAnError)
{
  auto p = std::make_unique<Pipeline> (kVideo + " ! rtcstreamsink");
  EXPECT_EQ (p->play (), GST_STATE_CHANGE_FAILURE);
  p->pump (100);
  EXPECT_TRUE (p->has_error_containing ("No uri set")) << p->all_errors ();
}


// --- data channels and navigation ------------------------------------------------

// What one side of a data channel saw; filled on the elements' worker threads.
struct Inbox {
  std::mutex lock;
  std::vector<std::string> texts;
  std::vector<std::string> binaries;
  std::vector<std::string> opened;  // peer ids
  size_t count_text (const std::string &t)
  {
    std::lock_guard<std::mutex> lk (lock);
    return std::count (texts.begin (), texts.end (), t);
  }
  size_t count_binary (const std::string &b)
  {
    std::lock_guard<std::mutex> lk (lock);
    return std::count (binaries.begin (), binaries.end (), b);
  }
};

void
connect_inbox (GstElement *element, Inbox *inbox)
{
  g_signal_connect (element, "text-message",
      G_CALLBACK (+[] (GstElement *, const gchar *, const gchar *text, gpointer data) {
        auto *in = static_cast<Inbox *> (data);
        std::lock_guard<std::mutex> lk (in->lock);
        in->texts.emplace_back (text);
      }), inbox);
  g_signal_connect (element, "binary-message",
      G_CALLBACK (+[] (GstElement *, const gchar *, GBytes *bytes, gpointer data) {
        auto *in = static_cast<Inbox *> (data);
        gsize n;
        auto *d = static_cast<const char *> (g_bytes_get_data (bytes, &n));
        std::lock_guard<std::mutex> lk (in->lock);
        in->binaries.emplace_back (d, n);
      }), inbox);
  g_signal_connect (element, "data-channel-opened",
      G_CALLBACK (+[] (GstElement *, const gchar *peer, gpointer data) {
        auto *in = static_cast<Inbox *> (data);
        std::lock_guard<std::mutex> lk (in->lock);
        in->opened.emplace_back (peer);
      }), inbox);
}

TEST_F (Streaming, DataChannelCarriesTextAndBinaryBothWays)
{
  auto prod = producer (kVideo + " ! " + sink_to ("cam", "data-channel=true"));
  GstElement *sink = prod->element ("sink");
  Inbox at_producer, at_consumer;
  connect_inbox (sink, &at_producer);
  auto cons = std::make_unique<Pipeline> ("rtcstreamsrc name=src uri=" + server->uri ("cam") +
      " ! fakesink");
  ASSERT_TRUE (cons->ok ());
  GstElement *src = cons->element ("src");
  connect_inbox (src, &at_consumer);
  cons->play ();

  // Both ends see the channel open; the producer names its consumer.
  ASSERT_TRUE (cons->wait_for ([&] {
    prod->pump (1);
    std::lock_guard<std::mutex> a (at_producer.lock);
    std::lock_guard<std::mutex> b (at_consumer.lock);
    return !at_producer.opened.empty () && !at_consumer.opened.empty ();
  }, kTimeoutMs)) << cons->all_errors () << prod->all_errors ();
  std::string consumer_peer;
  {
    std::lock_guard<std::mutex> lk (at_producer.lock);
    consumer_peer = at_producer.opened[0];
  }

  guint sent_to = 0;
  g_signal_emit_by_name (sink, "send-text", nullptr, "to every consumer", &sent_to);
  EXPECT_EQ (sent_to, 1u);
  g_signal_emit_by_name (sink, "send-text", consumer_peer.c_str (), "to you", &sent_to);
  EXPECT_EQ (sent_to, 1u);
  g_signal_emit_by_name (sink, "send-text", "no-such-peer", "lost", &sent_to);
  EXPECT_EQ (sent_to, 0u) << "an unknown peer id must not reach anyone";
  const std::string blob ("\x00\x01\xfe\xff binary", 11);
  GBytes *bytes = g_bytes_new (blob.data (), blob.size ());
  g_signal_emit_by_name (sink, "send-binary", nullptr, bytes, &sent_to);
  EXPECT_EQ (sent_to, 1u);
  gboolean ok = FALSE;
  g_signal_emit_by_name (src, "send-text", "hello producer", &ok);
  EXPECT_TRUE (ok);
  g_signal_emit_by_name (src, "send-binary", bytes, &ok);
  EXPECT_TRUE (ok);
  g_bytes_unref (bytes);

  EXPECT_TRUE (cons->wait_for ([&] {
    prod->pump (1);
    return at_consumer.count_text ("to every consumer") == 1 &&
        at_consumer.count_text ("to you") == 1 && at_consumer.count_binary (blob) == 1 &&
        at_producer.count_text ("hello producer") == 1 && at_producer.count_binary (blob) == 1;
  }, kTimeoutMs));
  EXPECT_EQ (at_consumer.count_text ("lost"), 0u);
  EXPECT_TRUE (cons->errors ().empty ()) << cons->all_errors ();
  EXPECT_TRUE (prod->errors ().empty ()) << prod->all_errors ();
}

TEST_F (Streaming, NoDataChannelUnlessAsked)
{
  auto prod = producer (kVideo + " ! " + sink_to ("cam"));
  auto cons = consumer ("rtcstreamsrc name=src uri=" + server->uri ("cam") + " ! fakesink name=v");
  auto v = cons->count ("v");
  ASSERT_TRUE (cons->wait_for ([&] { return v->frames >= 10; }, kTimeoutMs))
      << cons->all_errors ();
  gboolean ok = TRUE;
  g_signal_emit_by_name (cons->element ("src"), "send-text", "nobody listens", &ok);
  EXPECT_FALSE (ok) << "the producer did not open a data channel (data-channel=false)";
}

// Upstream navigation events seen at an element's src pad.
struct NavigationLog {
  std::mutex lock;
  std::vector<std::string> events;  // "type x y" or "type key"
  bool contains (const std::string &prefix)
  {
    std::lock_guard<std::mutex> lk (lock);
    for (auto &e : events)
      if (e.rfind (prefix, 0) == 0)
        return true;
    return false;
  }
};

GstPadProbeReturn
log_navigation (GstPad *, GstPadProbeInfo *info, gpointer data)
{
  GstEvent *ev = GST_PAD_PROBE_INFO_EVENT (info);
  if (GST_EVENT_TYPE (ev) != GST_EVENT_NAVIGATION)
    return GST_PAD_PROBE_OK;
  auto *log = static_cast<NavigationLog *> (data);
  const GstStructure *s = gst_event_get_structure (ev);
  std::string entry = gst_structure_get_string (s, "event");
  double x, y;
  if (gst_structure_get_double (s, "pointer_x", &x) &&
      gst_structure_get_double (s, "pointer_y", &y))
    entry += " " + std::to_string ((int) std::lround (x)) + " " +
        std::to_string ((int) std::lround (y));
  if (const char *key = gst_structure_get_string (s, "key"))
    entry += std::string (" ") + key;
  std::lock_guard<std::mutex> lk (log->lock);
  log->events.push_back (entry);
  return GST_PAD_PROBE_OK;
}

TEST_F (Streaming, NavigationFromTheConsumerReachesTheProducerScaled)
{
  // The producer publishes 320x240; the consumer shows it at 640x480. A click
  // at (400, 300) in the consumer's window is (200, 150) in the source.
  auto prod = producer (kVideo + " ! identity name=upstream ! " + sink_to ("cam"));
  NavigationLog log;
  GstPad *up = gst_element_get_static_pad (prod->element ("upstream"), "src");
  gst_pad_add_probe (up, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, log_navigation, &log, nullptr);
  gst_object_unref (up);
  auto cons = consumer ("rtcstreamsrc uri=" + server->uri ("cam") +
      " ! videoscale ! video/x-raw,width=640,height=480 ! fakesink name=v");
  auto v = cons->count ("v");
  ASSERT_TRUE (cons->wait_for ([&] { return v->frames >= 5; }, kTimeoutMs))
      << cons->all_errors ();
  GstElement *window = cons->element ("v");
  // The input channel may open a little after the first frame: click until
  // one arrives (each click is a press and a release).
  EXPECT_TRUE (cons->wait_for ([&] {
    gst_element_send_event (window,
        gst_navigation_event_new_mouse_button_press (1, 400, 300, GST_NAVIGATION_MODIFIER_NONE));
    gst_element_send_event (window,
        gst_navigation_event_new_mouse_button_release (1, 400, 300, GST_NAVIGATION_MODIFIER_NONE));
    prod->pump (50);
    return log.contains ("mouse-button-release");
  }, kTimeoutMs)) << prod->all_errors ();
  EXPECT_TRUE (log.contains ("mouse-button-press 200 150"));
  EXPECT_TRUE (log.contains ("mouse-button-release 200 150"));
  gst_element_send_event (window,
      gst_navigation_event_new_key_press ("space", GST_NAVIGATION_MODIFIER_SHIFT_MASK));
  EXPECT_TRUE (prod->wait_for ([&] { return log.contains ("key-press space"); }, kTimeoutMs));
}

TEST_F (Streaming, NavigationOffDropsEvents)
{
  auto prod = producer (kVideo + " ! identity name=upstream ! " +
      sink_to ("cam", "navigation=false data-channel=true"));
  NavigationLog log;
  GstPad *up = gst_element_get_static_pad (prod->element ("upstream"), "src");
  gst_pad_add_probe (up, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, log_navigation, &log, nullptr);
  gst_object_unref (up);
  Inbox at_consumer;
  auto cons = std::make_unique<Pipeline> ("rtcstreamsrc name=src uri=" + server->uri ("cam") +
      " ! fakesink name=v");
  connect_inbox (cons->element ("src"), &at_consumer);
  cons->play ();
  // Once the data channel is open the input channel would be too.
  ASSERT_TRUE (cons->wait_for ([&] {
    std::lock_guard<std::mutex> lk (at_consumer.lock);
    return !at_consumer.opened.empty ();
  }, kTimeoutMs)) << cons->all_errors ();
  for (int i = 0; i < 5; i++)
    gst_element_send_event (cons->element ("v"),
        gst_navigation_event_new_mouse_move (10, 10, GST_NAVIGATION_MODIFIER_NONE));
  prod->pump (500);
  EXPECT_FALSE (log.contains ("mouse-move"));
}

}  // namespace


// The producer's retransmission history of a session is bounded by age
// (max(1 s, 3 round trips), as libwebrtc's sender) once it is connected,
// not only by webrtcbin's 500 packets: what it keeps per session (650 KB
// of a 320x240 stream, multiplied by every viewer served at once) stays
// small. On loopback the round trip is far under 333 ms: 1 s.
TEST_F (Streaming, RetransmissionHistoryIsBoundedByAge)
{
  auto prod = producer (kVideo + " ! " + sink_to ("cam"));
  GstElement *sink = prod->element ("sink");
  struct Added {
    std::mutex lock;
    std::vector<GstElement *> webrtcbins;  // owned refs
    ~Added ()
    {
      for (GstElement *w : webrtcbins)
        gst_object_unref (w);
    }
  };
  auto added = std::make_shared<Added> ();
  auto record = [] (GstElement *, const gchar *, GstElement *webrtc, gpointer data) {
    auto *a = static_cast<Added *> (data);
    std::lock_guard<std::mutex> lk (a->lock);
    a->webrtcbins.push_back (GST_ELEMENT (gst_object_ref (webrtc)));
  };
  g_signal_connect (sink, "consumer-added", G_CALLBACK (+record), added.get ());
  auto cons = consumer ("rtcstreamsrc uri=" + server->uri ("cam") + " ! fakesink name=v");
  auto v = cons->count ("v");
  ASSERT_TRUE (cons->wait_for ([&] { return v->frames >= 20; }, kTimeoutMs)) << cons->all_errors ();
  GstElement *webrtc = nullptr;
  {
    std::lock_guard<std::mutex> lk (added->lock);
    ASSERT_EQ (added->webrtcbins.size (), 1u);
    webrtc = added->webrtcbins[0];
  }
  guint max_time = 0, max_packets = 0, senders = 0;
  auto read = [&] {
    senders = 0;
    GstIterator *it = gst_bin_iterate_recurse (GST_BIN (webrtc));
    GValue item = G_VALUE_INIT;
    while (gst_iterator_next (it, &item) == GST_ITERATOR_OK) {
      GstElement *e = GST_ELEMENT (g_value_get_object (&item));
      GstElementFactory *f = gst_element_get_factory (e);
      if (f && g_strcmp0 (GST_OBJECT_NAME (f), "rtprtxsend") == 0) {
        g_object_get (e, "max-size-time", &max_time, "max-size-packets", &max_packets, nullptr);
        senders++;
      }
      g_value_reset (&item);
    }
    g_value_unset (&item);
    gst_iterator_free (it);
    return max_time != 0;
  };
  // Set on the sink's worker once connected: no later than a moment after
  // the first frames.
  EXPECT_TRUE (prod->wait_for (read, 5000));
  EXPECT_EQ (senders, 1u) << "one bundled RTP session, one rtprtxsend";
  EXPECT_EQ (max_time, 1000u) << "history by age: max(1 s, 3 round trips)";
  EXPECT_EQ (max_packets, 500u) << "webrtcbin's own bound stays";
  cons->stop ();
  EXPECT_TRUE (prod->wait_for ([&] { return stats_uint (sink, "consumers") == 0; }, kTimeoutMs));
  prod->stop ();  // no handler runs after this
}
