// SPDX-License-Identifier: LGPL-2.1-or-later
//
// rtcstreamsrc as a user runs it: plain gst-launch-1.0 lines, as typed
// (only the server's port substituted), in child processes against the real
// rtcstream-signalling. A viewer line ends by itself when its sinks have had
// enough, when the producer stops, and on -e with Ctrl-C (SIGINT);
// downstream's caps choose the codec; latency=0 plays. Every process must
// exit within a bound; one that hangs fails its test with its threads'
// stacks (LaunchProcess, harness.h). The README's recording line (H264 into
// an MP4) runs with the other documented lines, in tests/doc.
#include <gst/gst.h>
#include <gtest/gtest.h>

#include <glib/gstdio.h>
#include <sys/stat.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "harness.h"

using rtcstream::test::have;
using rtcstream::test::kVideo;
using rtcstream::test::LaunchProcess;
using rtcstream::test::Pipeline;
using rtcstream::test::ServerProcess;
using rtcstream::test::start_producer;
using rtcstream::test::stats_uint;

namespace {

constexpr int kTimeoutMs = 20000;
// How long a line that ends by itself (num-buffers, the producer's end)
// may take, connection included.
constexpr int kEndMs = 30000;

// The producers of the README, with default properties.
constexpr char kCamProducer[] =
    "videotestsrc is-live=true ! rtcstreamsink name=sink uri=rtcstream://127.0.0.1:8443/cam";
constexpr char kStageProducer[] =
    "rtcstreamsink name=sink uri=rtcstream://127.0.0.1:8443/stage "
    "videotestsrc is-live=true ! sink.video_0  audiotestsrc is-live=true ! sink.audio_0";

class Launch : public ::testing::Test {
protected:
  void SetUp () override
  {
    ASSERT_TRUE (have ("rtcstreamsink") && have ("rtcstreamsrc"))
        << "the rtcstream plugin is not on GST_PLUGIN_PATH (run through meson test)";
    g_autofree gchar *launch = g_find_program_in_path ("gst-launch-1.0");
    ASSERT_TRUE (launch) << "gst-launch-1.0 is not on PATH (install gstreamer1.0-tools)";
    for (const char *f : {"webrtcbin", "nicesrc", "dtlssrtpenc", "vp8enc", "x264enc",
             "vp9enc", "opusenc"})
      if (!have (f))
        GTEST_SKIP () << f << " is not installed";
    server = std::make_unique<ServerProcess> ();
    ASSERT_TRUE (server->ok ()) << "rtcstream-signalling did not start";
  }

  // A line as the documentation writes it, for this test's server
  // (127.0.0.1:8443 in the documentation).
  std::string typed (std::string line)
  {
    const std::string port = "127.0.0.1:" + std::to_string (server->port ());
    for (std::size_t at; (at = line.find ("127.0.0.1:8443")) != std::string::npos;)
      line.replace (at, 14, port);
    return line;
  }

  std::unique_ptr<Pipeline> producer (const std::string &line)
  {
    return start_producer (typed (line), kTimeoutMs);
  }

  // The producer has a viewer, connected for a moment (data flows).
  void wait_for_viewer (Pipeline &prod)
  {
    ASSERT_TRUE (prod.wait_for ([&] {
      return stats_uint (prod.element ("sink"), "consumers") == 1;
    }, kTimeoutMs));
    prod.pump (1500);
  }

  void expect_viewer_gone (Pipeline &prod)
  {
    EXPECT_TRUE (prod.wait_for ([&] {
      return stats_uint (prod.element ("sink"), "consumers") == 0;
    }, kTimeoutMs)) << "the producer still has its viewer";
  }

  // Runs a line that must end by itself with exit status 0.
  void expect_ends (LaunchProcess &p)
  {
    ASSERT_TRUE (p.expect_exit (kEndMs));
    EXPECT_EQ (p.exit_code (), 0) << p.command_line () << "\n" << p.output ();
    EXPECT_TRUE (p.printed ("Got EOS from element \"pipeline0\"")) << p.output ();
  }

  std::unique_ptr<ServerProcess> server;
};

TEST_F (Launch, ViewerEndsWhenItsSinkHasEnough)
{
  auto prod = producer (kCamProducer);
  LaunchProcess viewer (typed ("gst-launch-1.0 rtcstreamsrc uri=rtcstream://127.0.0.1:8443/cam "
      "! videoconvert ! fakesink num-buffers=90"));
  expect_ends (viewer);
  expect_viewer_gone (*prod);
  EXPECT_TRUE (prod->errors ().empty ()) << prod->all_errors ();
}

TEST_F (Launch, VideoAndAudioViewerEndsWhenBothSinksHaveEnough)
{
  auto prod = producer (kStageProducer);
  LaunchProcess viewer (typed ("gst-launch-1.0 rtcstreamsrc name=s "
      "uri=rtcstream://127.0.0.1:8443/stage "
      "s.video_0 ! videoconvert ! fakesink num-buffers=90 "
      "s.audio_0 ! audioconvert ! fakesink num-buffers=150"));
  expect_ends (viewer);
  expect_viewer_gone (*prod);
}

TEST_F (Launch, ViewerEndsWhenTheProducerStops)
{
  auto prod = producer (kCamProducer);
  LaunchProcess viewer (typed ("gst-launch-1.0 rtcstreamsrc uri=rtcstream://127.0.0.1:8443/cam "
      "! videoconvert ! fakesink"));
  wait_for_viewer (*prod);
  prod->stop ();
  expect_ends (viewer);
}

TEST_F (Launch, InterruptWithEosEndsTheViewer)
{
  auto prod = producer (kCamProducer);
  LaunchProcess viewer (typed ("gst-launch-1.0 -e rtcstreamsrc "
      "uri=rtcstream://127.0.0.1:8443/cam ! videoconvert ! fakesink"));
  wait_for_viewer (*prod);
  ASSERT_TRUE (viewer.interrupt_and_expect_exit ());
  EXPECT_EQ (viewer.exit_code (), 0) << viewer.output ();
  EXPECT_TRUE (viewer.printed ("Got EOS from element \"pipeline0\"")) << viewer.output ();
  expect_viewer_gone (*prod);
}

// The server's WHEP endpoint: the same endings. WHEP has no message for the
// producer's end; the server's RTCP BYE tells the viewer.
TEST_F (Launch, WhepViewerEndsWhenItsSinkHasEnoughAndWhenTheProducerStops)
{
  auto prod = producer (kCamProducer);
  LaunchProcess enough (typed ("gst-launch-1.0 rtcstreamsrc "
      "uri=whep+http://127.0.0.1:8443/whep/cam ! videoconvert ! fakesink num-buffers=90"));
  expect_ends (enough);
  expect_viewer_gone (*prod);

  LaunchProcess until_end (typed ("gst-launch-1.0 rtcstreamsrc "
      "uri=whep+http://127.0.0.1:8443/whep/cam ! videoconvert ! fakesink"));
  wait_for_viewer (*prod);
  prod->stop ();
  expect_ends (until_end);
}

// Each encoded caps downstream asks for is what arrives, from a producer
// with default settings (its offer: VP8, H264, VP9; Opus): a capsfilter it
// did not get fails with not-negotiated. All four viewers at once.
TEST_F (Launch, DownstreamCapsChooseTheCodec)
{
  auto prod = producer (kStageProducer);
  std::vector<std::unique_ptr<LaunchProcess>> viewers;
  for (const char *caps : {"video/x-vp8", "video/x-vp9", "video/x-h264", "audio/x-opus"})
    viewers.push_back (std::make_unique<LaunchProcess> (typed (
        std::string ("gst-launch-1.0 rtcstreamsrc uri=rtcstream://127.0.0.1:8443/stage ! ") +
        caps + " ! fakesink num-buffers=60")));
  for (auto &v : viewers) {
    SCOPED_TRACE (v->command_line ());
    expect_ends (*v);
    EXPECT_FALSE (v->printed ("ERROR")) << v->output ();
  }
}

TEST_F (Launch, EncodedCodecTheProducerLacksIsAnErrorNamingBothSides)
{
  auto prod = producer ("videotestsrc is-live=true ! rtcstreamsink name=sink video-codecs=VP8 "
      "uri=rtcstream://127.0.0.1:8443/cam");
  LaunchProcess viewer (typed ("gst-launch-1.0 rtcstreamsrc uri=rtcstream://127.0.0.1:8443/cam "
      "! video/x-h264 ! fakesink"));
  ASSERT_TRUE (viewer.expect_exit (kEndMs));
  // gst-launch's exit status for an error: 1, not a crash (a signal is -1).
  EXPECT_EQ (viewer.exit_code (), 1) << viewer.output ();
  EXPECT_TRUE (viewer.printed ("downstream of video_0 takes video encoded as H264 only"))
      << viewer.output ();
  EXPECT_TRUE (viewer.printed ("the producer offers VP8")) << viewer.output ();
  // The producer is fine, and its viewer gone.
  expect_viewer_gone (*prod);
  EXPECT_TRUE (prod->errors ().empty ()) << prod->all_errors ();
}

// latency=0 plays every frame: counted against the frames the producer sent
// in the time the received ones span (their timestamps), over 4 s of video.
TEST_F (Launch, LatencyZeroPlaysAtTheFullFrameRate)
{
  auto prod = producer (kVideo + " ! rtcstreamsink name=sink uri=rtcstream://127.0.0.1:8443/cam");
  Pipeline cons (typed ("rtcstreamsrc latency=0 uri=rtcstream://127.0.0.1:8443/cam "
      "! fakesink name=v"));
  ASSERT_TRUE (cons.ok ()) << cons.parse_error ();
  std::mutex lock;
  GstClockTime first = GST_CLOCK_TIME_NONE, last = GST_CLOCK_TIME_NONE;
  auto v = cons.count ("v", [&] (GstBuffer *buf, GstCaps *) {
    std::lock_guard<std::mutex> lk (lock);
    if (!GST_BUFFER_PTS_IS_VALID (buf))
      return;
    if (first == GST_CLOCK_TIME_NONE)
      first = GST_BUFFER_PTS (buf);
    last = GST_BUFFER_PTS (buf);
  });
  auto span = [&] {
    std::lock_guard<std::mutex> lk (lock);
    return first == GST_CLOCK_TIME_NONE ? 0 : last - first;
  };
  cons.play ();
  cons.wait_for ([&] { return span () >= 4 * GST_SECOND || !cons.errors ().empty (); },
      kTimeoutMs);
  const double sent = span () / (GST_SECOND / 30.0) + 1;  // 30 fps
  EXPECT_GE (span (), 3 * GST_SECOND) << "frames " << v->frames << "\n" << cons.all_errors ();
  EXPECT_GE (v->frames, 0.8 * sent) << v->frames << " frames of " << sent;
  EXPECT_TRUE (cons.errors ().empty ()) << cons.all_errors ();
}

namespace {

// A file of size bytes that compresses to nothing useful (a xorshift
// stream), and the sha256 of a file.
void
write_pseudo_random_file (const std::string &path, gsize size)
{
  std::vector<guint64> data (size / 8);
  guint64 x = 0x9e3779b97f4a7c15ull;
  for (auto &w : data) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    w = x;
  }
  ASSERT_TRUE (g_file_set_contents (path.c_str (), reinterpret_cast<const char *> (data.data ()),
      data.size () * 8, nullptr));
}

std::string
sha256_of (const std::string &path)
{
  gchar *contents = nullptr;
  gsize length = 0;
  if (!g_file_get_contents (path.c_str (), &contents, &length, nullptr))
    return "(unreadable)";
  gchar *sum = g_compute_checksum_for_data (G_CHECKSUM_SHA256,
      reinterpret_cast<const guchar *> (contents), length);
  std::string out = sum;
  g_free (sum);
  g_free (contents);
  return out;
}

}  // namespace

// A data stream: a 50 MiB file copied exactly from one gst-launch-1.0 to
// another through the server, each line ending by itself (the producer once
// the viewer has acknowledged everything, the viewer at the stream's EOS).
TEST_F (Launch, FileCopiedExactlyBetweenTwoLaunchLines)
{
  g_autofree gchar *dir = g_dir_make_tmp ("rtcstream-data-XXXXXX", nullptr);
  ASSERT_TRUE (dir);
  const std::string big = std::string (dir) + "/big.iso", copy = std::string (dir) + "/copy.iso";
  write_pseudo_random_file (big, 50 * 1024 * 1024);
  LaunchProcess producer (typed ("gst-launch-1.0 filesrc location=" + big +
      " ! rtcstreamsink uri=rtcstream://127.0.0.1:8443/file"));
  LaunchProcess viewer (typed ("gst-launch-1.0 rtcstreamsrc "
      "uri=rtcstream://127.0.0.1:8443/file ! filesink location=" + copy));
  expect_ends (viewer);
  expect_ends (producer);
  EXPECT_EQ (sha256_of (copy), sha256_of (big));
  g_remove (big.c_str ());
  g_remove (copy.c_str ());
  g_rmdir (dir);
}

}  // namespace

// rtcstreamroom's bad settings fail at once with a sentence naming them, and
// a participant name already in the room is refused; the room goes on.
TEST_F (Launch, RoomRefusesBadSettingsAndTakenNames)
{
  const std::string room = "gst-launch-1.0 rtcstreamroom uri=rtcstream://127.0.0.1:8443/";
  const std::string input = " videotestsrc is-live=true ! rtcstreamroom0.";
  const struct {
    std::string args;
    const char *says;
  } bad[] = {
    { "me%20et participant=a", "The room in uri" },
    { "meet participant=a:b", "participant 'a:b' is not valid" },
  };
  for (const auto &b : bad) {
    LaunchProcess p (typed (room + b.args + input));
    ASSERT_TRUE (p.expect_exit (kEndMs));
    EXPECT_NE (p.exit_code (), 0) << p.output ();  // gst-launch: 255, failing to start
    EXPECT_TRUE (p.printed (b.says)) << p.output ();
  }
  LaunchProcess whip (typed ("gst-launch-1.0 rtcstreamroom uri=whip+http://127.0.0.1:8443/whip/x" +
      input));
  ASSERT_TRUE (whip.expect_exit (kEndMs));
  EXPECT_TRUE (whip.printed ("rtcstreamroom needs an rtcstream://HOST:PORT/ROOM")) << whip.output ();

  LaunchProcess first (typed (room + "meet participant=zed" + input));
  LaunchProcess watcher (typed ("gst-launch-1.0 rtcstreamsrc uri=rtcstream://127.0.0.1:8443/meet:zed "
      "! videoconvert ! fakesink num-buffers=30"));
  expect_ends (watcher);  // a room participant is a stream like any other
  LaunchProcess second (typed (room + "meet participant=zed" + input));
  ASSERT_TRUE (second.expect_exit (kEndMs));
  EXPECT_EQ (second.exit_code (), 1) << second.output ();
  EXPECT_TRUE (second.printed ("Stream name 'meet:zed' is already published")) << second.output ();
  EXPECT_FALSE (first.exited ()) << first.output ();
  EXPECT_TRUE (first.interrupt_and_expect_exit ());
}

// gst-launch-1.0 quits on an ERROR from a bus sync handler: one posted while
// its first set_state (PAUSED) still runs, before its main loop, used to be
// printed and then forgotten, the line going on to PLAYING for ever (a room
// participant refused a taken name did so under load). A filesrc reading a
// FIFO holds that state change open until a writer comes: the refusal of
// the taken name arrives meanwhile, and the line must still end with it.
TEST_F (Launch, AnErrorWhileAnotherElementStartsStillEndsTheLine)
{
  auto cam = producer (kCamProducer);
  ASSERT_TRUE (cam);
  g_autofree gchar *dir = g_dir_make_tmp ("rtcstream-fifo-XXXXXX", nullptr);
  ASSERT_TRUE (dir);
  const std::string fifo = std::string (dir) + "/slow";
  ASSERT_EQ (mkfifo (fifo.c_str (), 0600), 0);
  LaunchProcess second (typed ("gst-launch-1.0 videotestsrc is-live=true ! "
      "rtcstreamsink uri=rtcstream://127.0.0.1:8443/cam filesrc location=" + fifo +
      " ! fakesink"));
  // Time for the server's refusal to come while filesrc waits in open ().
  g_usleep (2 * G_USEC_PER_SEC);
  EXPECT_FALSE (second.exited ()) << second.output ();
  {
    FILE *writer = fopen (fifo.c_str (), "w");  // lets filesrc's open () return
    ASSERT_TRUE (writer);
    fputs ("x", writer);
    fclose (writer);
  }
  ASSERT_TRUE (second.expect_exit (kEndMs)) << second.output ();
  EXPECT_EQ (second.exit_code (), 1) << second.output ();
  EXPECT_TRUE (second.printed ("Stream name 'cam' is already published")) << second.output ();
  g_remove (fifo.c_str ());
  g_rmdir (dir);
}
