// SPDX-License-Identifier: LGPL-2.1-or-later
//
// rtcstream-bench: compares rtcstream (rtcstreamsink / rtcstreamsrc through
// rtcstream-signalling) with bare webrtcbin pipelines on this machine.
//
//  1. Time to first decoded frame of a new consumer, interleaved runs.
//  2. Producer CPU and RSS with 1, 5, 20 consumers receiving encoded VP8.
//  3. Glass-to-glass roles for bench/netsim.sh g2g (netsim-bench runs them
//     inside the simulator's hosts): the producer stamps the monotonic clock
//     into each picture before encoding, the consumer reads it back from the
//     decoded picture when its sink renders it.
//
// One binary, several roles. `run` is the orchestrator: it starts the
// signalling server and the other roles as child processes (so that each
// producer's CPU and memory can be read from /proc) and prints markdown.
// The child roles talk over stdin/stdout, one line per message:
//
//   producer URI        rtcstreamsink; READY when registered; "stats" -> STATS
//   consumers URI N     N x rtcstreamsrc ! video/x-vp8 ! fakesink; FIRST/ALL; "count" -> COUNT
//   bl-producer N       videotestsrc ! vp8enc ! tee ! N x (rtpvp8pay ! webrtcbin)
//   bl-consumers N      N x webrtcbin -> rtpvp8depay ! fakesink
//   g2g-producer URI    as producer, the clock stamped into each picture;
//                       "stages" -> STAGES, "sink-stats" -> SINKSTATS, "frames" -> FRAMES;
//                       G2G_SINK_PROPS in the environment: more rtcstreamsink
//                       properties, as in a launch line ("start-bitrate=300000")
//   g2g-consumer URI L  rtcstreamsrc latency=L ! fakesink sync=true: "reset",
//                       "g2g" -> G2G (see G2g::report), "count" -> COUNT
//   g2g-bl-producer     as bl-producer 1, stamped
//   g2g-bl-consumer L   as bl-consumers 1, webrtcbin latency=L, decoded, G2G
//
// The two bl- roles exchange SDP and ICE as "SIG ..." lines that the
// orchestrator relays from one child's stdout to the other's stdin.
//
// This is a benchmark, not a test: it is not registered with `meson test`.

#include <gst/base/base.h>
#include <gst/gst.h>
#include <gst/sdp/sdp.h>
#include <gst/video/video.h>
#include <gst/webrtc/webrtc.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <iostream>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace {

// --- shared helpers ------------------------------------------------------------

// The producer settings every variant uses, rtcstream's own VP8 settings
// (gst/rtcstream/codecs.cpp) spelled out for the bare pipelines.
constexpr const char *kSource =
    "videotestsrc is-live=true ! video/x-raw,width=1280,height=720,framerate=30/1";
constexpr const char *kVp8Enc =
    "vp8enc deadline=1 cpu-used=8 lag-in-frames=0 end-usage=cbr target-bitrate=2000000 "
    "keyframe-max-dist=300 threads=1";

std::mutex out_lock;

void
say (const std::string &line)
{
  std::lock_guard<std::mutex> lk (out_lock);
  fputs (line.c_str (), stdout);
  fputc ('\n', stdout);
  fflush (stdout);
}

void
note (const char *fmt, ...) G_GNUC_PRINTF (1, 2);

void
note (const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  gchar *s = g_strdup_vprintf (fmt, ap);
  va_end (ap);
  {
    std::lock_guard<std::mutex> lk (out_lock);
    fprintf (stderr, "[bench %d] %s\n", (int) getpid (), s);
    fflush (stderr);
  }
  g_free (s);
}

gint64
now_us ()
{
  return g_get_monotonic_time ();
}

std::string
escape (const std::string &s)
{
  gchar *e = g_strescape (s.c_str (), nullptr);
  std::string r = e;
  g_free (e);
  return r;
}

std::string
unescape (const std::string &s)
{
  gchar *u = g_strcompress (s.c_str ());
  std::string r = u;
  g_free (u);
  return r;
}

std::vector<std::string>
split (const std::string &s, char sep, size_t max_parts)
{
  std::vector<std::string> out;
  size_t start = 0;
  while (out.size () + 1 < max_parts) {
    size_t p = s.find (sep, start);
    if (p == std::string::npos)
      break;
    out.push_back (s.substr (start, p - start));
    start = p + 1;
  }
  out.push_back (s.substr (start));
  return out;
}

// Bus messages of a child role's pipeline: errors end the role.
struct RoleLoop {
  GMainLoop *loop = nullptr;
  GstElement *pipeline = nullptr;
  int exit_code = 0;
  std::function<void (const std::string &)> on_line;  // a line read from stdin
  std::function<void (GstMessage *)> on_element;
};

gboolean
on_role_bus (GstBus *, GstMessage *msg, gpointer data)
{
  auto *rl = static_cast<RoleLoop *> (data);
  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ERROR: {
      GError *err = nullptr;
      gchar *dbg = nullptr;
      gst_message_parse_error (msg, &err, &dbg);
      say (std::string ("ERROR ") + GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)) + ": " +
          (err ? err->message : "?"));
      note ("error from %s: %s (%s)", GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)),
          err ? err->message : "?", dbg ? dbg : "");
      g_clear_error (&err);
      g_free (dbg);
      rl->exit_code = 1;
      g_main_loop_quit (rl->loop);
      break;
    }
    case GST_MESSAGE_WARNING: {
      GError *err = nullptr;
      gst_message_parse_warning (msg, &err, nullptr);
      note ("warning from %s: %s", GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)),
          err ? err->message : "?");
      g_clear_error (&err);
      break;
    }
    case GST_MESSAGE_LATENCY:
      // As gst-launch does: webrtcbins added while playing need the latency.
      gst_bin_recalculate_latency (GST_BIN (rl->pipeline));
      break;
    case GST_MESSAGE_ELEMENT:
      if (rl->on_element)
        rl->on_element (msg);
      break;
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

gboolean
on_role_stdin (GIOChannel *ch, GIOCondition, gpointer data)
{
  auto *rl = static_cast<RoleLoop *> (data);
  gchar *line = nullptr;
  gsize term = 0;
  GIOStatus st = g_io_channel_read_line (ch, &line, nullptr, &term, nullptr);
  if (st == G_IO_STATUS_EOF || st == G_IO_STATUS_ERROR) {
    g_main_loop_quit (rl->loop);
    return G_SOURCE_REMOVE;
  }
  if (st == G_IO_STATUS_NORMAL && line) {
    line[term] = '\0';
    std::string s = line;
    if (s == "quit")
      g_main_loop_quit (rl->loop);
    else if (rl->on_line)
      rl->on_line (s);
  }
  g_free (line);
  return G_SOURCE_CONTINUE;
}

// Runs pipeline until stdin closes (or "quit", or an error).
int
run_role (GstElement *pipeline, RoleLoop &rl)
{
  rl.loop = g_main_loop_new (nullptr, FALSE);
  rl.pipeline = pipeline;
  GstBus *bus = gst_element_get_bus (pipeline);
  gst_bus_add_watch (bus, on_role_bus, &rl);
  GIOChannel *ch = g_io_channel_unix_new (0);
  g_io_add_watch (ch, (GIOCondition) (G_IO_IN | G_IO_HUP | G_IO_ERR), on_role_stdin, &rl);
  if (gst_element_set_state (pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    say ("ERROR could not start the pipeline");
    rl.exit_code = 1;
  } else {
    g_main_loop_run (rl.loop);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_bus_remove_watch (bus);
  gst_object_unref (bus);
  g_io_channel_unref (ch);
  gst_object_unref (pipeline);
  g_main_loop_unref (rl.loop);
  return rl.exit_code;
}

GstElement *
parse (const std::string &desc)
{
  GError *err = nullptr;
  GstElement *p = gst_parse_launch (desc.c_str (), &err);
  if (err) {
    note ("cannot parse '%s': %s", desc.c_str (), err->message);
    g_clear_error (&err);
    if (p)
      gst_object_unref (p);
    return nullptr;
  }
  return p;
}

// Counts buffers reaching N sink pads; says FIRST i / ALL.
struct FrameCounters {
  explicit FrameCounters (size_t n) : counts (n) {}
  std::vector<std::atomic<guint64>> counts;
  std::atomic<size_t> started{0};
  gint64 t0 = 0;

  struct Probe {
    FrameCounters *fc;
    size_t index;
  };

  void attach (GstElement *sink, size_t index)
  {
    GstPad *pad = gst_element_get_static_pad (sink, "sink");
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, on_buffer, new Probe{this, index},
        [] (gpointer d) { delete static_cast<Probe *> (d); });
    gst_object_unref (pad);
  }

  static GstPadProbeReturn on_buffer (GstPad *, GstPadProbeInfo *, gpointer data)
  {
    auto *p = static_cast<Probe *> (data);
    if (p->fc->counts[p->index].fetch_add (1) == 0) {
      say ("FIRST " + std::to_string (p->index) + " " +
          std::to_string ((now_us () - p->fc->t0) / 1000));
      if (p->fc->started.fetch_add (1) + 1 == p->fc->counts.size ())
        say ("ALL");
    }
    return GST_PAD_PROBE_OK;
  }

  guint64 total () const
  {
    guint64 t = 0;
    for (auto &c : counts)
      t += c.load ();
    return t;
  }
};

// --- glass to glass: the capture time in the picture --------------------------------

// The wall clock (ms, its low 32 bits) in the top of the luma plane: bit i is
// a block in column i of row 0 (white 1, black 0), and again inverted in
// row 1, which tells a picture that carries a stamp. Blocks are 1/40 of the
// width, 32 pixels at 1280 (at 16, the blocks of the low bits, which change
// every frame, came out grey from a VP8 encoder at 2 Mbit/s); a picture
// scaled down by the sender's congestion control still reads.
constexpr int kStampBits = 32;

// The clock of the stamps: the wall clock, which a browser on the same
// machine reads too (tests/netsim/chromium-viewer.mjs --g2g).
gint64
stamp_now_us ()
{
  return g_get_real_time ();
}

guint8 *
stamp_pixel (GstVideoFrame *f, int row, int bit, int *ok)
{
  const int w = GST_VIDEO_FRAME_WIDTH (f), h = GST_VIDEO_FRAME_HEIGHT (f);
  const int x = (2 * bit + 1) * w / 80, y = (2 * row + 1) * w / 80;
  *ok = x < w && y < h;
  return (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (f, 0) + y * GST_VIDEO_FRAME_PLANE_STRIDE (f, 0) + x;
}

void
write_stamp (GstVideoFrame *f, guint64 us)
{
  const int w = GST_VIDEO_FRAME_WIDTH (f), h = GST_VIDEO_FRAME_HEIGHT (f);
  const int bs = std::max (1, w / 40);
  guint8 *y0 = (guint8 *) GST_VIDEO_FRAME_PLANE_DATA (f, 0);
  const int stride = GST_VIDEO_FRAME_PLANE_STRIDE (f, 0);
  for (int row = 0; row < 2; row++)
    for (int bit = 0; bit < kStampBits; bit++) {
      const bool one = ((us >> bit) & 1) != (row == 1);
      for (int y = row * bs; y < std::min (h, (row + 1) * bs); y++)
        memset (y0 + y * stride + bit * bs, one ? 235 : 16, std::min (bs, w - bit * bs));
    }
}

bool
read_stamp (GstVideoFrame *f, guint64 *us)
{
  guint64 v = 0;
  for (int bit = 0; bit < kStampBits; bit++) {
    int ok0, ok1;
    const bool a = *stamp_pixel (f, 0, bit, &ok0) > 128, b = *stamp_pixel (f, 1, bit, &ok1) > 128;
    if (!ok0 || !ok1 || a == b)
      return false;
    v |= (guint64) a << bit;
  }
  *us = v;
  return true;
}

// Producer: stamps each picture that leaves `identity name=stamp` (in a YUV
// format: what the encoders take, I420, is negotiated).
void
attach_stamper (GstElement *pipeline)
{
  GstElement *id = gst_bin_get_by_name (GST_BIN (pipeline), "stamp");
  GstPad *pad = gst_element_get_static_pad (id, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, [] (GstPad *pad, GstPadProbeInfo *info,
      gpointer) -> GstPadProbeReturn {
    GstCaps *caps = gst_pad_get_current_caps (pad);
    GstVideoInfo vi;
    bool have = caps && gst_video_info_from_caps (&vi, caps);
    if (caps)
      gst_caps_unref (caps);
    if (!have || !GST_VIDEO_INFO_IS_YUV (&vi))  // the stamp goes in the luma plane
      return GST_PAD_PROBE_OK;
    GstBuffer *buf = gst_buffer_make_writable (GST_PAD_PROBE_INFO_BUFFER (info));
    GST_PAD_PROBE_INFO_DATA (info) = buf;
    GstVideoFrame f;
    if (gst_video_frame_map (&f, &vi, buf, GST_MAP_WRITE)) {
      write_stamp (&f, (guint64) stamp_now_us () / 1000 & 0xffffffffu);
      gst_video_frame_unmap (&f);
    }
    return GST_PAD_PROBE_OK;
  }, nullptr, nullptr);
  gst_object_unref (pad);
  gst_object_unref (id);
}

// Consumer: reads the stamp of each picture its sink renders (fakesink
// sync=true, qos, 20 ms max-lateness as a video sink has: a later picture
// is dropped, not rendered), from its handoff, after the clock wait.
struct G2g {
  std::mutex lock;
  std::vector<double> ms;       // capture to render, per picture rendered
  // G2G_DEBUG: at the sink's pad, before its clock wait: capture to there,
  // the wait ahead, arrival less the picture's timestamp; the sink's latency
  std::vector<double> arrival, waits, behind;
  double latency_ms = 0;
  guint64 first = 0, last = 0;  // stamps (µs) since the reset
  guint64 unreadable = 0;
  guint64 total = 0;            // pictures rendered since the start, read or not
  GstElement *sink = nullptr;
  guint64 dropped0 = 0;
  GstElement *src = nullptr;    // rtcstreamsrc, for its playout delay
  std::vector<double> targets;

  // The capture time (µs, wall clock) stamped in buf, read at now; false:
  // no readable stamp.
  static bool stamp_of (GstBuffer *buf, GstPad *pad, gint64 now, guint64 *out)
  {
    GstCaps *caps = gst_pad_get_current_caps (pad);
    GstVideoInfo vi;
    bool have = caps && gst_video_info_from_caps (&vi, caps);
    if (caps)
      gst_caps_unref (caps);
    GstVideoFrame f;
    guint64 us = 0;
    bool ok = have && gst_video_frame_map (&f, &vi, buf, GST_MAP_READ);
    if (!ok)
      return false;
    // ms modulo 2^32 in the picture, µs here; the stamp was truncated: +0.5 ms.
    ok = read_stamp (&f, &us);
    const guint32 ago_ms = (guint32) ((guint64) now / 1000 - us);
    us = ((guint64) now / 1000 - ago_ms) * 1000 + 500;
    ok = ok && us <= (guint64) now + 500 && (guint64) now - us < 10 * G_USEC_PER_SEC;
    if (!ok && g_getenv ("G2G_DEBUG")) {
      std::string bits;
      for (int row = 0; row < 2; row++, bits += " ")
        for (int bit = 0; bit < kStampBits; bit++) {
          int okp;
          bits += std::to_string (*stamp_pixel (&f, row, bit, &okp) / 26);
        }
      note ("unreadable %dx%d %s us %llu now %lld", GST_VIDEO_FRAME_WIDTH (&f),
          GST_VIDEO_FRAME_HEIGHT (&f), bits.c_str (), (unsigned long long) us, (long long) now);
    }
    gst_video_frame_unmap (&f);
    *out = us;
    return ok;
  }

  static void on_handoff (GstElement *, GstBuffer *buf, GstPad *pad, gpointer data)
  {
    auto *g = static_cast<G2g *> (data);
    const gint64 now = stamp_now_us ();
    guint64 us = 0;
    const bool ok = stamp_of (buf, pad, now, &us);
    std::lock_guard<std::mutex> lk (g->lock);
    g->total++;
    if (!ok) {
      g->unreadable++;
      return;
    }
    g->ms.push_back ((now - (gint64) us) / 1000.0);
    if (!g->first)
      g->first = us;
    g->last = std::max (g->last, us);
  }

  // G2G_DEBUG: the sink's pad, before its clock wait: the picture on arrival
  // (decoded), and how long the sink will hold it (its timestamp + the
  // pipeline's latency, less now), for finding where the time goes. (With
  // sync, a picture reaches the sink only after the one before it rendered:
  // one streaming thread from the jitterbuffer on.)
  static GstPadProbeReturn on_arrival (GstPad *pad, GstPadProbeInfo *info, gpointer data)
  {
    auto *g = static_cast<G2g *> (data);
    GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
    const gint64 now = stamp_now_us ();
    guint64 us = 0;
    if (!buf || !stamp_of (buf, pad, now, &us))
      return GST_PAD_PROBE_OK;
    double wait = NAN, latency_ms = 0;
    GstEvent *ev = gst_pad_get_sticky_event (pad, GST_EVENT_SEGMENT, 0);
    GstClock *clock = gst_element_get_clock (g->sink);
    if (ev && clock && GST_BUFFER_PTS_IS_VALID (buf)) {
      const GstSegment *seg;
      gst_event_parse_segment (ev, &seg);
      const GstClockTime rt = gst_segment_to_running_time (seg, GST_FORMAT_TIME,
          GST_BUFFER_PTS (buf));
      const GstClockTime latency = gst_base_sink_get_latency (GST_BASE_SINK (g->sink));
      if (GST_CLOCK_TIME_IS_VALID (rt)) {
        const GstClockTime at = rt + gst_element_get_base_time (g->sink) + latency;
        wait = ((gint64) at - (gint64) gst_clock_get_time (clock)) / 1e6;
        latency_ms = latency / 1e6;
      }
    }
    if (ev)
      gst_event_unref (ev);
    if (clock)
      gst_object_unref (clock);
    std::lock_guard<std::mutex> lk (g->lock);
    g->arrival.push_back ((now - (gint64) us) / 1000.0);
    if (!std::isnan (wait)) {
      g->waits.push_back (wait);
      g->behind.push_back (latency_ms - wait);
      g->latency_ms = latency_ms;
    }
    return GST_PAD_PROBE_OK;
  }

  void attach (GstElement *fakesink)
  {
    sink = fakesink;
    // G2G_SYNC=0: render on arrival (what the picture costs without the
    // sink's clock wait), for finding where the time goes.
    const bool sync = g_strcmp0 (g_getenv ("G2G_SYNC"), "0") != 0;
    g_object_set (sink, "sync", sync, "qos", TRUE, "max-lateness", (gint64) 20 * GST_MSECOND,
        "signal-handoffs", TRUE, "enable-last-sample", FALSE, nullptr);
    // G2G_DEADLINE=MS: the sink's processing-deadline (default 20 ms, which
    // a live pipeline's sink adds to its latency, for decoding and the like).
    if (const char *d = g_getenv ("G2G_DEADLINE"))
      g_object_set (sink, "processing-deadline", (guint64) (atof (d) * GST_MSECOND), nullptr);
    g_signal_connect (sink, "handoff", G_CALLBACK (on_handoff), this);
    if (g_getenv ("G2G_DEBUG")) {
      GstPad *pad = gst_element_get_static_pad (sink, "sink");
      gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, on_arrival, this, nullptr);
      gst_object_unref (pad);
    }
  }

  guint64 dropped ()
  {
    GstStructure *st = nullptr;
    g_object_get (sink, "stats", &st, nullptr);
    guint64 d = 0;
    if (st) {
      gst_structure_get_uint64 (st, "dropped", &d);
      gst_structure_free (st);
    }
    return d;
  }

  void reset ()
  {
    std::lock_guard<std::mutex> lk (lock);
    ms.clear ();
    arrival.clear ();
    waits.clear ();
    behind.clear ();
    targets.clear ();
    first = last = unreadable = 0;
    dropped0 = sink ? dropped () : 0;
  }

  // Main loop, every 500 ms: the src's playout delay.
  void sample_target ()
  {
    if (!src)
      return;
    GstStructure *st = nullptr;
    g_object_get (src, "stats", &st, nullptr);
    guint t = 0;
    if (st && g_getenv ("G2G_DEBUG")) {
      gchar *text = gst_structure_to_string (st);
      note ("%s", text);
      g_free (text);
    }
    if (st && gst_structure_get_uint (st, "latency", &t)) {
      std::lock_guard<std::mutex> lk (lock);
      targets.push_back (t);
    }
    if (st)
      gst_structure_free (st);
  }

  // G2G RENDERED EXPECTED DROPPED P50 P90 P99 MAX TARGET UNREADABLE ARRIVAL WAIT:
  // pictures rendered since the reset, those the producer made meanwhile
  // (30 fps between the first and last stamp seen), those the sink dropped
  // late, capture to render in ms, the src's mean playout delay (-1: not
  // rtcstreamsrc), pictures rendered whose stamp did not read; G2G_DEBUG:
  // medians (ms) of capture to the sink's pad (decoded, before the clock
  // wait) and of the clock wait ahead of a picture there (-1 and nan without).
  std::string report ()
  {
    const guint64 d = sink ? dropped () : 0;
    std::lock_guard<std::mutex> lk (lock);
    std::vector<double> v = ms;
    std::sort (v.begin (), v.end ());
    auto pct = [&] (double p) {
      return v.empty () ? -1.0 : v[std::min (v.size () - 1, (size_t) (p / 100.0 * v.size ()))];
    };
    const double expected = last > first ? (last - first) / (1e6 / 30.0) + 1 : 0;
    double target = -1;
    if (!targets.empty ()) {
      target = 0;
      for (double t : targets)
        target += t / targets.size ();
    }
    auto median = [] (std::vector<double> x) {
      if (x.empty ())
        return -1.0;
      std::sort (x.begin (), x.end ());
      return x[x.size () / 2];
    };
    if (!behind.empty ()) {
      std::vector<double> b = behind;
      std::sort (b.begin (), b.end ());
      note ("behind its timestamp on arrival: p10 %.1f p50 %.1f p90 %.1f max %.1f ms; "
          "latency %.1f ms", b[b.size () / 10], b[b.size () / 2], b[b.size () * 9 / 10],
          b.back (), latency_ms);
    }
    char line[320];
    snprintf (line, sizeof line,
        "G2G %zu %.0f %llu %.1f %.1f %.1f %.1f %.1f %llu %.1f %.1f", v.size (), expected,
        (unsigned long long) (d - dropped0), pct (50), pct (90), pct (99),
        v.empty () ? -1.0 : v.back (), target, (unsigned long long) unreadable,
        median (arrival), median (waits));
    return line;
  }
};

// The commands of a g2g consumer role.
void
g2g_commands (RoleLoop &rl, G2g &g)
{
  rl.on_line = [&g] (const std::string &line) {
    if (line == "reset") {
      g.reset ();
    } else if (line == "g2g") {
      say (g.report ());
    } else if (line == "count") {
      std::lock_guard<std::mutex> lk (g.lock);
      say ("COUNT " + std::to_string (g.total));
    }
  };
  g_timeout_add (500, [] (gpointer data) -> gboolean {
    static_cast<G2g *> (data)->sample_target ();
    return G_SOURCE_CONTINUE;
  }, &g);
}

// Producer: where a picture's time goes inside rtcstreamsink. The moment
// each picture (by PTS) is stamped, then first leaves the encoder's queue,
// the encoder, the first consumer's queue and its payloader; "stages" answers
//   STAGES N QUEUE ENCODE BRANCH PAY
// the medians in ms from the stamp over the N pictures seen since the last
// "stages" (each stage counted from the stamp, not from the stage before).
struct Stages {
  static constexpr int kCount = 4;   // queue, encoder, consumer's queue, payloader out
  std::mutex lock;
  std::map<GstClockTime, gint64> stamped;        // PTS -> µs (stamp clock)
  std::map<GstClockTime, std::array<gint64, kCount>> seen;
  std::vector<double> ms[kCount];

  void stamp (GstClockTime pts)
  {
    std::lock_guard<std::mutex> lk (lock);
    stamped[pts] = stamp_now_us ();
    while (stamped.size () > 120)
      stamped.erase (stamped.begin ());
  }

  void passed (int stage, GstClockTime pts)
  {
    const gint64 now = stamp_now_us ();
    std::lock_guard<std::mutex> lk (lock);
    auto it = stamped.find (pts);
    if (it == stamped.end ())
      return;
    auto &s = seen[pts];
    if (s[stage])
      return;
    s[stage] = now;
    ms[stage].push_back ((now - it->second) / 1000.0);
    while (seen.size () > 120)
      seen.erase (seen.begin ());
  }

  std::string report ()
  {
    std::lock_guard<std::mutex> lk (lock);
    std::string out = "STAGES " + std::to_string (ms[kCount - 1].size ());
    for (auto &v : ms) {
      std::sort (v.begin (), v.end ());
      char buf[32];
      snprintf (buf, sizeof buf, " %.1f", v.empty () ? -1.0 : v[v.size () / 2]);
      out += buf;
      v.clear ();
    }
    return out;
  }

  // The encoder's frames since the last "frames": (bytes, keyframe).
  std::vector<std::pair<size_t, bool>> frames;

  // FRAMES N KEYFRAMES MEDIAN P95 MAX KEYMAX: the encoded frames since the
  // last "frames", their sizes in bytes.
  std::string frames_report ()
  {
    std::lock_guard<std::mutex> lk (lock);
    std::vector<size_t> all;
    size_t keys = 0, keymax = 0;
    for (const auto &[bytes, key] : frames) {
      all.push_back (bytes);
      if (key) {
        keys++;
        keymax = std::max (keymax, bytes);
      }
    }
    frames.clear ();
    std::sort (all.begin (), all.end ());
    auto pct = [&] (double p) {
      return all.empty () ? 0 : all[std::min (all.size () - 1, (size_t) (p * all.size ()))];
    };
    return "FRAMES " + std::to_string (all.size ()) + " " + std::to_string (keys) + " " +
        std::to_string (pct (0.5)) + " " + std::to_string (pct (0.95)) + " " +
        std::to_string (all.empty () ? 0 : all.back ()) + " " + std::to_string (keymax);
  }

  static GstPadProbeReturn on_buffer (GstPad *, GstPadProbeInfo *info, gpointer data)
  {
    auto *at = static_cast<std::pair<Stages *, int> *> (data);
    GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
    if (GST_BUFFER_PTS_IS_VALID (buf))
      at->first->passed (at->second, GST_BUFFER_PTS (buf));
    if (at->second == 1) {
      std::lock_guard<std::mutex> lk (at->first->lock);
      at->first->frames.emplace_back (gst_buffer_get_size (buf),
          !GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DELTA_UNIT));
      if (at->first->frames.size () > 10000)
        at->first->frames.clear ();
    }
    return GST_PAD_PROBE_OK;
  }

  void watch (GstElement *e, int stage)
  {
    GstPad *pad = gst_element_get_static_pad (e, "src");
    if (!pad)
      return;
    gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, on_buffer,
        new std::pair<Stages *, int> (this, stage),
        [] (gpointer d) { delete static_cast<std::pair<Stages *, int> *> (d); });
    gst_object_unref (pad);
  }

  // deep-element-added: rtcstreamsink's video queue, encoder and payloaders.
  static void on_element (GstBin *, GstBin *, GstElement *e, gpointer data)
  {
    auto *self = static_cast<Stages *> (data);
    const std::string name = GST_OBJECT_NAME (e);
    GstElementFactory *f = gst_element_get_factory (e);
    const char *klass = f ? gst_element_factory_get_metadata (f, GST_ELEMENT_METADATA_KLASS) : "";
    auto ends = [&] (const char *tail) {
      const size_t n = strlen (tail);
      return name.size () > n && name.compare (name.size () - n, n, tail) == 0;
    };
    if (klass && strstr (klass, "Payloader")) {
      const char *fname = GST_OBJECT_NAME (f);
      if (!strstr (fname, "opus") && !strstr (fname, "pcm"))
        self->watch (e, 3);
      return;
    }
    if (name.find ("video") == std::string::npos && !(klass && strstr (klass, "Video")))
      return;
    const bool group = name.find ("-VP8-") != std::string::npos ||
        name.find ("-VP9-") != std::string::npos || name.find ("-H264-") != std::string::npos ||
        name.find ("-AV1-") != std::string::npos;
    if (ends ("-queue"))
      self->watch (e, group ? 0 : 2);
    else if (ends ("-encoder"))
      self->watch (e, 1);
  }
};

int
role_g2g_producer (const std::string &uri)
{
  GstElement *pipeline = parse (std::string (kSource) +
      " ! identity name=stamp ! rtcstreamsink name=sink uri=" + uri + " " +
      (g_getenv ("G2G_SINK_PROPS") ? g_getenv ("G2G_SINK_PROPS") : ""));
  if (!pipeline)
    return 1;
  attach_stamper (pipeline);
  Stages stages;
  GstElement *id = gst_bin_get_by_name (GST_BIN (pipeline), "stamp");
  GstPad *pad = gst_element_get_static_pad (id, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, [] (GstPad *, GstPadProbeInfo *info,
      gpointer data) -> GstPadProbeReturn {
    GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER (info);
    if (GST_BUFFER_PTS_IS_VALID (buf))
      static_cast<Stages *> (data)->stamp (GST_BUFFER_PTS (buf));
    return GST_PAD_PROBE_OK;
  }, &stages, nullptr);
  gst_object_unref (pad);
  gst_object_unref (id);
  g_signal_connect (pipeline, "deep-element-added", G_CALLBACK (Stages::on_element), &stages);
  RoleLoop rl;
  rl.on_element = [] (GstMessage *msg) {
    const GstStructure *s = gst_message_get_structure (msg);
    if (s && gst_structure_has_name (s, "rtcstream-registered"))
      say ("READY");
  };
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  rl.on_line = [&stages, sink] (const std::string &line) {
    if (line == "stages") {
      say (stages.report ());
    } else if (line == "frames") {
      say (stages.frames_report ());
    } else if (line == "sink-stats") {
      // SINKSTATS and the sink's stats structure as text.
      GstStructure *s = nullptr;
      g_object_get (sink, "stats", &s, nullptr);
      g_autofree gchar *text = s ? gst_structure_to_string (s) : g_strdup ("");
      if (s)
        gst_structure_free (s);
      say (std::string ("SINKSTATS ") + text);
    }
  };
  int rc = run_role (pipeline, rl);
  gst_object_unref (sink);
  return rc;
}

int
role_g2g_consumer (const std::string &uri, int latency)
{
  GstElement *pipeline = parse ("rtcstreamsrc name=src latency=" + std::to_string (latency) +
      " uri=" + uri + " ! video/x-raw,format=I420 ! fakesink name=out");
  if (!pipeline)
    return 1;
  G2g g;
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), "out");
  g.attach (sink);
  g.src = gst_bin_get_by_name (GST_BIN (pipeline), "src");
  RoleLoop rl;
  g2g_commands (rl, g);
  say ("READY");
  int rc = run_role (pipeline, rl);
  gst_object_unref (sink);
  gst_object_unref (g.src);
  return rc;
}

// --- role: producer (rtcstreamsink) --------------------------------------------------

int
role_producer (const std::string &uri)
{
  GstElement *pipeline = parse (std::string (kSource) + " ! rtcstreamsink name=sink uri=" + uri);
  if (!pipeline)
    return 1;
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  RoleLoop rl;
  rl.on_element = [] (GstMessage *msg) {
    const GstStructure *s = gst_message_get_structure (msg);
    if (s && gst_structure_has_name (s, "rtcstream-registered"))
      say ("READY");
  };
  rl.on_line = [sink] (const std::string &line) {
    if (line != "stats")
      return;
    GstStructure *s = nullptr;
    g_object_get (sink, "stats", &s, nullptr);
    guint consumers = 0, encoders = 0;
    if (s) {
      gst_structure_get_uint (s, "consumers", &consumers);
      gst_structure_get_uint (s, "encoders", &encoders);
      gst_structure_free (s);
    }
    say ("STATS " + std::to_string (consumers) + " " + std::to_string (encoders));
  };
  int rc = run_role (pipeline, rl);
  gst_object_unref (sink);
  return rc;
}

// --- role: consumers (N x rtcstreamsrc, encoded) ------------------------------------

int
role_consumers (const std::string &uri, size_t n)
{
  std::string desc;
  for (size_t i = 0; i < n; i++) {
    desc += "rtcstreamsrc uri=" + uri + " ! video/x-vp8 ! fakesink name=sink" +
        std::to_string (i) + " sync=false async=false enable-last-sample=false ";
  }
  GstElement *pipeline = parse (desc);
  if (!pipeline)
    return 1;
  FrameCounters fc (n);
  for (size_t i = 0; i < n; i++) {
    GstElement *s = gst_bin_get_by_name (GST_BIN (pipeline), ("sink" + std::to_string (i)).c_str ());
    fc.attach (s, i);
    gst_object_unref (s);
  }
  RoleLoop rl;
  rl.on_line = [&fc] (const std::string &line) {
    if (line == "count")
      say ("COUNT " + std::to_string (fc.total ()));
  };
  fc.t0 = now_us ();
  return run_role (pipeline, rl);
}

// --- bare webrtcbin negotiation helpers ---------------------------------------------

using SdpFn = std::function<void (GstWebRTCSessionDescription *)>;

struct PromiseData {
  const char *field;
  SdpFn fn;
};

// A promise whose reply's `field` (offer / answer) is handed to fn, on
// webrtcbin's thread.
GstPromise *
sdp_promise (const char *field, SdpFn fn)
{
  return gst_promise_new_with_change_func (
      [] (GstPromise *promise, gpointer data) {
        auto *pd = static_cast<PromiseData *> (data);
        if (gst_promise_wait (promise) != GST_PROMISE_RESULT_REPLIED) {
          note ("promise for %s got no reply", pd->field);
          return;
        }
        const GstStructure *reply = gst_promise_get_reply (promise);
        GstWebRTCSessionDescription *desc = nullptr;
        if (reply)
          gst_structure_get (reply, pd->field, GST_TYPE_WEBRTC_SESSION_DESCRIPTION, &desc, nullptr);
        if (!desc) {
          note ("no %s in the reply", pd->field);
          return;
        }
        pd->fn (desc);
        gst_webrtc_session_description_free (desc);
      },
      new PromiseData{field, std::move (fn)},
      [] (gpointer data) { delete static_cast<PromiseData *> (data); });
}

// A promise that calls fn once webrtcbin has replied (or given up).
GstPromise *
done_promise (std::function<void ()> fn)
{
  return gst_promise_new_with_change_func (
      [] (GstPromise *, gpointer data) { (*static_cast<std::function<void ()> *> (data)) (); },
      new std::function<void ()> (std::move (fn)),
      [] (gpointer data) { delete static_cast<std::function<void ()> *> (data); });
}

std::string
sdp_text (GstWebRTCSessionDescription *desc)
{
  gchar *t = gst_sdp_message_as_text (desc->sdp);
  std::string s = t;
  g_free (t);
  return s;
}

GstWebRTCSessionDescription *
sdp_from_text (GstWebRTCSDPType type, const std::string &text)
{
  GstSDPMessage *msg = nullptr;
  gst_sdp_message_new_from_text (text.c_str (), &msg);
  if (!msg)
    return nullptr;
  return gst_webrtc_session_description_new (type, msg);
}

// Receiving end in the bare pipelines: what rtcstreamsrc builds for VP8, with
// the same depayloader settings (keyframe requests on loss, wait for one).
GstElement *
make_depay ()
{
  GstElement *d = gst_element_factory_make ("rtpvp8depay", nullptr);
  g_object_set (d, "request-keyframe", TRUE, "wait-for-keyframe", TRUE, nullptr);
  return d;
}

// Links a webrtcbin src pad to depay [! vp8dec] ! fakesink, probing the sink.
// With g2g: decoded, rendered by a syncing sink whose pictures g2g reads.
void
link_receiver (GstElement *bin, GstPad *pad, bool decode, FrameCounters *fc, size_t index,
    G2g *g2g = nullptr)
{
  if (GST_PAD_DIRECTION (pad) != GST_PAD_SRC)
    return;
  std::vector<GstElement *> chain;
  chain.push_back (make_depay ());
  if (decode || g2g)
    chain.push_back (gst_element_factory_make ("vp8dec", nullptr));
  GstElement *sink = gst_element_factory_make ("fakesink", nullptr);
  g_object_set (sink, "sync", FALSE, "async", FALSE, "enable-last-sample", FALSE, nullptr);
  if (g2g)
    g2g->attach (sink);
  chain.push_back (sink);
  fc->attach (sink, index);
  for (GstElement *e : chain)
    gst_bin_add (GST_BIN (bin), e);
  for (size_t i = 0; i + 1 < chain.size (); i++)
    gst_element_link (chain[i], chain[i + 1]);
  for (auto it = chain.rbegin (); it != chain.rend (); ++it)
    gst_element_sync_state_with_parent (*it);
  GstPad *sinkpad = gst_element_get_static_pad (chain.front (), "sink");
  if (gst_pad_link (pad, sinkpad) != GST_PAD_LINK_OK)
    note ("could not link %s", GST_PAD_NAME (pad));
  gst_object_unref (sinkpad);
}

// --- role: bl-producer (bare webrtcbin, one encoder, tee to N) ------------------------

// The per-consumer branch mirrors rtcstreamsink's (leaky 500 ms queue,
// payloader with pt 96, mtu 1200, 15-bit picture ids, PLI advertised).
std::string
bare_sender_branch (const std::string &webrtc_name)
{
  return "queue leaky=downstream max-size-buffers=0 max-size-bytes=0 max-size-time=500000000 ! "
         "rtpvp8pay pt=96 mtu=1200 picture-id-mode=15-bit ! "
         "application/x-rtp,media=video,encoding-name=VP8,payload=96,clock-rate=90000,"
         "rtcp-fb-nack-pli=true ! webrtcbin name=" + webrtc_name + " bundle-policy=max-bundle ";
}

struct BarePeer {
  GstElement *webrtc = nullptr;
  size_t index = 0;
};

void
on_bare_ice (GstElement *, guint mline, gchar *cand, gpointer data)
{
  auto *peer = static_cast<BarePeer *> (data);
  if (!cand || !*cand)
    return;
  say ("SIG " + std::to_string (peer->index) + " ice " + std::to_string (mline) + " " +
      escape (cand));
}

void
on_bare_negotiation_needed (GstElement *webrtc, gpointer data)
{
  auto *peer = static_cast<BarePeer *> (data);
  size_t index = peer->index;
  GstPromise *p = sdp_promise ("offer", [webrtc, index] (GstWebRTCSessionDescription *offer) {
    g_signal_emit_by_name (webrtc, "set-local-description", offer, nullptr);
    say ("SIG " + std::to_string (index) + " offer " + escape (sdp_text (offer)));
  });
  g_signal_emit_by_name (webrtc, "create-offer", nullptr, p);
}

// "SIG i kind payload" lines from the other side.
void
handle_bare_sig (std::vector<BarePeer> &peers, const std::string &line,
    const std::function<void (BarePeer &, const std::string &)> &on_offer,
    const std::function<void (BarePeer &, const std::string &)> &on_answer)
{
  auto parts = split (line, ' ', 4);
  if (parts.size () < 4 || parts[0] != "SIG")
    return;
  size_t i = std::stoul (parts[1]);
  if (i >= peers.size ())
    return;
  BarePeer &peer = peers[i];
  if (parts[2] == "offer") {
    on_offer (peer, unescape (parts[3]));
  } else if (parts[2] == "answer") {
    on_answer (peer, unescape (parts[3]));
  } else if (parts[2] == "ice") {
    auto ice = split (parts[3], ' ', 2);
    if (ice.size () == 2) {
      std::string cand = unescape (ice[1]);
      g_signal_emit_by_name (peer.webrtc, "add-ice-candidate", (guint) std::stoul (ice[0]),
          cand.c_str ());
    }
  }
}

int
role_bl_producer (size_t n, bool stamp = false)
{
  std::string desc = std::string (kSource) +
      (stamp ? " ! identity name=stamp" : "") + " ! " + kVp8Enc +
      " ! tee name=t allow-not-linked=true ";
  for (size_t i = 0; i < n; i++)
    desc += "t. ! " + bare_sender_branch ("w" + std::to_string (i));
  GstElement *pipeline = parse (desc);
  if (!pipeline)
    return 1;
  if (stamp)
    attach_stamper (pipeline);
  std::vector<BarePeer> peers (n);
  for (size_t i = 0; i < n; i++) {
    peers[i].index = i;
    peers[i].webrtc = gst_bin_get_by_name (GST_BIN (pipeline), ("w" + std::to_string (i)).c_str ());
    g_signal_connect (peers[i].webrtc, "on-negotiation-needed",
        G_CALLBACK (on_bare_negotiation_needed), &peers[i]);
    g_signal_connect (peers[i].webrtc, "on-ice-candidate", G_CALLBACK (on_bare_ice), &peers[i]);
  }
  RoleLoop rl;
  rl.on_line = [&peers] (const std::string &line) {
    handle_bare_sig (peers, line, [] (BarePeer &, const std::string &) {},
        [] (BarePeer &peer, const std::string &sdp) {
          GstWebRTCSessionDescription *a = sdp_from_text (GST_WEBRTC_SDP_TYPE_ANSWER, sdp);
          if (!a)
            return;
          g_signal_emit_by_name (peer.webrtc, "set-remote-description", a, nullptr);
          gst_webrtc_session_description_free (a);
        });
  };
  say ("READY");
  int rc = run_role (pipeline, rl);
  for (auto &p : peers)
    gst_object_unref (p.webrtc);
  return rc;
}

// --- role: bl-consumers (N receiving webrtcbins, encoded) ----------------------------

struct BareReceiver {
  FrameCounters *fc;
  GstElement *pipeline;
  size_t index;
  G2g *g2g;
};

void
on_bare_recv_pad (GstElement *, GstPad *pad, gpointer data)
{
  auto *r = static_cast<BareReceiver *> (data);
  link_receiver (r->pipeline, pad, false, r->fc, r->index, r->g2g);
}

void
bare_answer (BarePeer &peer, const std::string &sdp)
{
  GstWebRTCSessionDescription *offer = sdp_from_text (GST_WEBRTC_SDP_TYPE_OFFER, sdp);
  if (!offer)
    return;
  GstElement *webrtc = peer.webrtc;
  size_t index = peer.index;
  GstPromise *p = done_promise ([webrtc, index] {
    GstPromise *ap = sdp_promise ("answer", [webrtc, index] (GstWebRTCSessionDescription *ans) {
      g_signal_emit_by_name (webrtc, "set-local-description", ans, nullptr);
      say ("SIG " + std::to_string (index) + " answer " + escape (sdp_text (ans)));
    });
    g_signal_emit_by_name (webrtc, "create-answer", nullptr, ap);
  });
  g_signal_emit_by_name (webrtc, "set-remote-description", offer, p);
  gst_webrtc_session_description_free (offer);
}

// g2g: one consumer, decoded, its pictures read by g2g (commands reset,
// g2g), with the jitterbuffer latency given.
int
role_bl_consumers (size_t n, guint latency = 50, G2g *g2g = nullptr)
{
  GstElement *pipeline = gst_pipeline_new (nullptr);
  FrameCounters fc (n);
  std::vector<BarePeer> peers (n);
  std::vector<BareReceiver> recv (n);
  for (size_t i = 0; i < n; i++) {
    peers[i].index = i;
    peers[i].webrtc = gst_element_factory_make ("webrtcbin", ("r" + std::to_string (i)).c_str ());
    if (!peers[i].webrtc)
      return 1;
    // 50 ms: rtcstreamsrc's fixed default before it became adaptive.
    gst_util_set_object_arg (G_OBJECT (peers[i].webrtc), "bundle-policy", "max-bundle");
    g_object_set (peers[i].webrtc, "latency", latency, nullptr);
    gst_bin_add (GST_BIN (pipeline), GST_ELEMENT (gst_object_ref (peers[i].webrtc)));
    recv[i] = BareReceiver{&fc, pipeline, i, g2g};
    g_signal_connect (peers[i].webrtc, "on-ice-candidate", G_CALLBACK (on_bare_ice), &peers[i]);
    g_signal_connect (peers[i].webrtc, "pad-added", G_CALLBACK (on_bare_recv_pad), &recv[i]);
  }
  RoleLoop rl;
  if (g2g)
    g2g_commands (rl, *g2g);
  auto g2g_line = rl.on_line;
  rl.on_line = [&peers, &fc, g2g_line] (const std::string &line) {
    if (line == "count") {
      say ("COUNT " + std::to_string (fc.total ()));
      return;
    }
    if (g2g_line && line.rfind ("SIG ", 0) != 0) {
      g2g_line (line);
      return;
    }
    handle_bare_sig (peers, line, bare_answer, [] (BarePeer &, const std::string &) {});
  };
  fc.t0 = now_us ();
  say ("READY");
  int rc = run_role (pipeline, rl);
  for (auto &p : peers)
    gst_object_unref (p.webrtc);
  return rc;
}

// --- orchestrator: child processes ---------------------------------------------------

class Child {
public:
  Child () = default;
  Child (const Child &) = delete;
  Child &operator= (const Child &) = delete;
  ~Child () { finish (3000); }

  // env: NAME=VALUE pairs set in the child only.
  bool spawn (const std::vector<std::string> &argv, const std::string &log_path,
      const std::vector<std::string> &env = {})
  {
    int in[2], out[2];
    if (pipe2 (in, O_CLOEXEC) != 0 || pipe2 (out, O_CLOEXEC) != 0)
      return false;
    int log_fd = open (log_path.c_str (), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    pid_ = fork ();
    if (pid_ < 0)
      return false;
    if (pid_ == 0) {
      dup2 (in[0], 0);
      dup2 (out[1], 1);
      if (log_fd >= 0)
        dup2 (log_fd, 2);
      for (const std::string &e : env)
        putenv (const_cast<char *> (e.c_str ()));
      std::vector<char *> args;
      for (auto &a : argv)
        args.push_back (const_cast<char *> (a.c_str ()));
      args.push_back (nullptr);
      execv (args[0], args.data ());
      _exit (127);
    }
    if (log_fd >= 0)
      close (log_fd);
    close (in[0]);
    close (out[1]);
    in_fd_ = in[1];
    out_fd_ = out[0];
    name_ = argv.size () > 1 ? argv[1] : argv[0];
    reader_ = std::thread ([this] { read_loop (); });
    return true;
  }

  pid_t pid () const { return pid_; }

  // Lines starting with "SIG " go to partner's stdin instead of the queue.
  void relay_to (Child *partner) { relay_ = partner; }

  void send (const std::string &line)
  {
    std::lock_guard<std::mutex> lk (write_lock_);
    if (in_fd_ < 0)
      return;
    std::string l = line + "\n";
    const char *p = l.data ();
    size_t left = l.size ();
    while (left > 0) {
      ssize_t w = write (in_fd_, p, left);
      if (w <= 0)
        return;
      p += w;
      left -= (size_t) w;
    }
  }

  // Pops lines until one starts with prefix; a line starting with ERROR, the
  // child's exit, or the timeout fail.
  bool wait_line (const std::string &prefix, int timeout_ms, std::string *out = nullptr)
  {
    auto deadline = std::chrono::steady_clock::now () + std::chrono::milliseconds (timeout_ms);
    std::unique_lock<std::mutex> lk (lock_);
    for (;;) {
      while (!lines_.empty ()) {
        std::string l = lines_.front ();
        lines_.pop_front ();
        if (l.rfind (prefix, 0) == 0) {
          if (out)
            *out = l;
          return true;
        }
        if (l.rfind ("ERROR", 0) == 0) {
          note ("%s: %s", name_.c_str (), l.c_str ());
          return false;
        }
      }
      if (eof_) {
        note ("%s exited while waiting for %s", name_.c_str (), prefix.c_str ());
        return false;
      }
      if (cv_.wait_until (lk, deadline) == std::cv_status::timeout && lines_.empty ()) {
        note ("%s: timed out waiting for %s", name_.c_str (), prefix.c_str ());
        return false;
      }
    }
  }

  // Closes stdin (the roles exit on EOF) and reaps; signals after timeout.
  void finish (int timeout_ms)
  {
    {
      std::lock_guard<std::mutex> lk (write_lock_);
      if (in_fd_ >= 0)
        close (in_fd_);
      in_fd_ = -1;
    }
    if (pid_ > 0) {
      gint64 deadline = now_us () + timeout_ms * 1000;
      int status = 0;
      bool reaped = false;
      int sig_sent = 0;
      while (!reaped) {
        pid_t r = waitpid (pid_, &status, WNOHANG);
        if (r == pid_ || r < 0) {
          reaped = true;
          break;
        }
        if (now_us () > deadline) {
          if (sig_sent == 0) {
            kill (pid_, SIGTERM);
            sig_sent = 1;
            deadline = now_us () + 2000 * 1000;
          } else {
            kill (pid_, SIGKILL);
            waitpid (pid_, &status, 0);
            reaped = true;
          }
        }
        g_usleep (20 * 1000);
      }
      pid_ = -1;
    }
    if (reader_.joinable ())
      reader_.join ();
    if (out_fd_ >= 0)
      close (out_fd_);
    out_fd_ = -1;
  }

private:
  void read_loop ()
  {
    FILE *f = fdopen (dup (out_fd_), "r");
    char *buf = nullptr;
    size_t cap = 0;
    ssize_t len;
    while (f && (len = getline (&buf, &cap, f)) >= 0) {
      std::string l (buf, (size_t) len);
      while (!l.empty () && (l.back () == '\n' || l.back () == '\r'))
        l.pop_back ();
      if (relay_ && l.rfind ("SIG ", 0) == 0) {
        relay_->send (l);
        continue;
      }
      std::lock_guard<std::mutex> lk (lock_);
      lines_.push_back (l);
      cv_.notify_all ();
    }
    free (buf);
    if (f)
      fclose (f);
    std::lock_guard<std::mutex> lk (lock_);
    eof_ = true;
    cv_.notify_all ();
  }

  pid_t pid_ = -1;
  int in_fd_ = -1, out_fd_ = -1;
  std::string name_;
  std::thread reader_;
  std::mutex lock_, write_lock_;
  std::condition_variable cv_;
  std::deque<std::string> lines_;
  bool eof_ = false;
  Child *relay_ = nullptr;
};

struct ProcSample {
  double cpu_s = 0;    // user + system, all threads
  double rss_mb = 0;   // VmRSS
  double hwm_mb = 0;   // VmHWM (peak RSS)
};

ProcSample
sample (pid_t pid)
{
  ProcSample s;
  std::ifstream stat ("/proc/" + std::to_string (pid) + "/stat");
  std::string all ((std::istreambuf_iterator<char> (stat)), std::istreambuf_iterator<char> ());
  size_t close_paren = all.rfind (')');
  if (close_paren != std::string::npos) {
    std::istringstream is (all.substr (close_paren + 2));
    std::vector<std::string> f;
    std::string tok;
    while (is >> tok)
      f.push_back (tok);
    // f[0] is field 3 (state); utime and stime are fields 14 and 15.
    if (f.size () > 12) {
      double tck = (double) sysconf (_SC_CLK_TCK);
      s.cpu_s = (std::stod (f[11]) + std::stod (f[12])) / tck;
    }
  }
  std::ifstream status ("/proc/" + std::to_string (pid) + "/status");
  std::string line;
  while (std::getline (status, line)) {
    if (line.rfind ("VmRSS:", 0) == 0)
      s.rss_mb = std::stod (line.substr (6)) / 1024.0;
    else if (line.rfind ("VmHWM:", 0) == 0)
      s.hwm_mb = std::stod (line.substr (6)) / 1024.0;
  }
  return s;
}

struct Options {
  std::string self;
  std::string signalling;
  std::string log_dir = ".";
  int runs = 10;
  int window_s = 10;
  int reps = 2;
  int warmup_s = 2;
  std::vector<size_t> counts = {1, 5, 20};
  std::vector<std::string> variants;  // ttff: LABEL=BUILD_DIR
};

std::vector<std::string>
role_argv (const Options &o, std::initializer_list<std::string> args)
{
  std::vector<std::string> v = {o.self};
  v.insert (v.end (), args);
  return v;
}

double
percentile (std::vector<double> v, double p)
{
  if (v.empty ())
    return NAN;
  std::sort (v.begin (), v.end ());
  if (p == 50.0) {
    size_t n = v.size ();
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2.0;
  }
  // Nearest rank.
  size_t rank = (size_t) std::ceil (p / 100.0 * (double) v.size ());
  return v[std::min (v.size (), std::max<size_t> (rank, 1)) - 1];
}

std::string
fmt (double v, int decimals = 1)
{
  if (std::isnan (v))
    return "n/a";
  char b[64];
  snprintf (b, sizeof b, "%.*f", decimals, v);
  return b;
}

// --- orchestrator: time to first frame ------------------------------------------------

struct FirstFrame {
  std::mutex lock;
  std::condition_variable cv;
  gint64 at = 0;

  static GstPadProbeReturn on_buffer (GstPad *, GstPadProbeInfo *, gpointer data)
  {
    auto *ff = static_cast<FirstFrame *> (data);
    std::lock_guard<std::mutex> lk (ff->lock);
    if (ff->at == 0) {
      ff->at = now_us ();
      ff->cv.notify_all ();
    }
    return GST_PAD_PROBE_REMOVE;
  }

  // Waits for the first frame, watching the bus for errors.
  bool wait (GstElement *pipeline, int timeout_ms)
  {
    GstBus *bus = gst_element_get_bus (pipeline);
    gint64 deadline = now_us () + (gint64) timeout_ms * 1000;
    bool ok = false;
    for (;;) {
      {
        std::unique_lock<std::mutex> lk (lock);
        cv.wait_for (lk, std::chrono::milliseconds (2), [this] { return at != 0; });
        if (at != 0) {
          ok = true;
          break;
        }
      }
      if (now_us () > deadline)
        break;
      while (GstMessage *m = gst_bus_pop_filtered (bus,
                 (GstMessageType) (GST_MESSAGE_ERROR | GST_MESSAGE_LATENCY))) {
        if (GST_MESSAGE_TYPE (m) == GST_MESSAGE_LATENCY) {
          gst_bin_recalculate_latency (GST_BIN (pipeline));
          gst_message_unref (m);
          continue;
        }
        GError *err = nullptr;
        gst_message_parse_error (m, &err, nullptr);
        note ("ttff pipeline error from %s: %s", GST_OBJECT_NAME (GST_MESSAGE_SRC (m)),
            err ? err->message : "?");
        g_clear_error (&err);
        gst_message_unref (m);
        deadline = 0;
      }
    }
    gst_object_unref (bus);
    return ok;
  }
};

// Where the time to first frame goes: the moments a consumer's webrtcbin
// reaches each step, from its own signals (on webrtcbin's threads).
enum PhaseId {
  kWebrtcbin,      // created: the signalling found the producer and made the session
  kRemoteOffer,    // the producer's offer applied (signaling-state have-remote-offer)
  kAnswered,       // our answer applied (stable)
  kIceChecking,    // ICE checks started
  kIceConnected,   // a candidate pair works
  kConnected,      // DTLS done (connection-state connected)
  kFirstRtp,       // webrtcbin's first src pad: the first RTP packet decrypted
  kPhaseCount,
};
const char *const kPhaseNames[kPhaseCount] = {"webrtcbin", "offer applied", "answered",
    "ICE checking", "ICE connected", "DTLS connected", "first RTP"};

struct Phases {
  gint64 t0 = 0;
  std::atomic<gint64> at[kPhaseCount] = {};

  void mark (PhaseId id)
  {
    gint64 zero = 0;
    at[id].compare_exchange_strong (zero, now_us ());
  }
  // ms from t0, NAN when not reached.
  double ms (PhaseId id) const
  {
    gint64 v = at[id].load ();
    return v ? (double) (v - t0) / 1000.0 : NAN;
  }

  static void on_signaling (GstElement *webrtc, GParamSpec *, gpointer data)
  {
    GstWebRTCSignalingState st;
    g_object_get (webrtc, "signaling-state", &st, nullptr);
    auto *ph = static_cast<Phases *> (data);
    if (st == GST_WEBRTC_SIGNALING_STATE_HAVE_REMOTE_OFFER)
      ph->mark (kRemoteOffer);
    else if (st == GST_WEBRTC_SIGNALING_STATE_STABLE && ph->at[kRemoteOffer].load ())
      ph->mark (kAnswered);
  }
  static void on_ice (GstElement *webrtc, GParamSpec *, gpointer data)
  {
    GstWebRTCICEConnectionState st;
    g_object_get (webrtc, "ice-connection-state", &st, nullptr);
    auto *ph = static_cast<Phases *> (data);
    if (st == GST_WEBRTC_ICE_CONNECTION_STATE_CHECKING)
      ph->mark (kIceChecking);
    else if (st == GST_WEBRTC_ICE_CONNECTION_STATE_CONNECTED ||
             st == GST_WEBRTC_ICE_CONNECTION_STATE_COMPLETED)
      ph->mark (kIceConnected);
  }
  static void on_connection (GstElement *webrtc, GParamSpec *, gpointer data)
  {
    GstWebRTCPeerConnectionState st;
    g_object_get (webrtc, "connection-state", &st, nullptr);
    if (st == GST_WEBRTC_PEER_CONNECTION_STATE_CONNECTED)
      static_cast<Phases *> (data)->mark (kConnected);
  }
  static void on_pad (GstElement *, GstPad *pad, gpointer data)
  {
    if (GST_PAD_DIRECTION (pad) == GST_PAD_SRC)
      static_cast<Phases *> (data)->mark (kFirstRtp);
  }
  // The pipeline's deep-element-added: hooks the webrtcbin when it appears.
  static void on_element (GstBin *, GstBin *, GstElement *e, gpointer data)
  {
    GstElementFactory *f = gst_element_get_factory (e);
    if (!f || g_strcmp0 (GST_OBJECT_NAME (f), "webrtcbin") != 0)
      return;
    auto *ph = static_cast<Phases *> (data);
    ph->mark (kWebrtcbin);
    g_signal_connect (e, "notify::signaling-state", G_CALLBACK (on_signaling), ph);
    g_signal_connect (e, "notify::ice-connection-state", G_CALLBACK (on_ice), ph);
    g_signal_connect (e, "notify::connection-state", G_CALLBACK (on_connection), ph);
    g_signal_connect (e, "pad-added", G_CALLBACK (on_pad), ph);
  }
};

// rtcstream: consumer pipeline started while the producer is registered.
// Returns ms from set_state(PLAYING) to the first decoded buffer, or NAN;
// phases (if given) gets the moments in between.
double
ttff_rtcstream (const std::string &uri, Phases *phases = nullptr)
{
  GstElement *pipeline = parse ("rtcstreamsrc uri=" + uri +
      " ! fakesink name=sink sync=false async=false enable-last-sample=false");
  if (!pipeline)
    return NAN;
  if (phases)
    g_signal_connect (pipeline, "deep-element-added", G_CALLBACK (Phases::on_element), phases);
  auto *ff = new FirstFrame ();
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  GstPad *pad = gst_element_get_static_pad (sink, "sink");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, FirstFrame::on_buffer, ff, nullptr);
  gst_object_unref (pad);
  gst_object_unref (sink);
  gint64 t0 = now_us ();
  if (phases)
    phases->t0 = t0;
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  bool ok = ff->wait (pipeline, 15000);
  double ms = ok ? (double) (ff->at - t0) / 1000.0 : NAN;
  if (ok) {
    // The first buffer must be a decoded frame.
    GstElement *s = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
    GstPad *sp = gst_element_get_static_pad (s, "sink");
    GstCaps *caps = gst_pad_get_current_caps (sp);
    if (!caps || !gst_structure_has_name (gst_caps_get_structure (caps, 0), "video/x-raw")) {
      gchar *c = caps ? gst_caps_to_string (caps) : g_strdup ("none");
      note ("rtcstream ttff: first buffer is not raw video but %s", c);
      g_free (c);
      ms = NAN;
    }
    if (caps)
      gst_caps_unref (caps);
    gst_object_unref (sp);
    gst_object_unref (s);
  }
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (pipeline);
  delete ff;
  return ms;
}

// Baseline: two webrtcbins in one pipeline, SDP and ICE handed over directly.
struct BarePair {
  GstElement *pipeline = nullptr;
  GstElement *send = nullptr;
  GstElement *recv = nullptr;
  FirstFrame ff;
};

void
on_pair_negotiation_needed (GstElement *, gpointer data)
{
  auto *bp = static_cast<BarePair *> (data);
  GstPromise *p = sdp_promise ("offer", [bp] (GstWebRTCSessionDescription *offer) {
    g_signal_emit_by_name (bp->send, "set-local-description", offer, nullptr);
    GstPromise *rp = done_promise ([bp] {
      GstPromise *ap = sdp_promise ("answer", [bp] (GstWebRTCSessionDescription *answer) {
        g_signal_emit_by_name (bp->recv, "set-local-description", answer, nullptr);
        g_signal_emit_by_name (bp->send, "set-remote-description", answer, nullptr);
      });
      g_signal_emit_by_name (bp->recv, "create-answer", nullptr, ap);
    });
    g_signal_emit_by_name (bp->recv, "set-remote-description", offer, rp);
  });
  g_signal_emit_by_name (bp->send, "create-offer", nullptr, p);
}

void
on_pair_ice_send (GstElement *, guint mline, gchar *cand, gpointer data)
{
  auto *bp = static_cast<BarePair *> (data);
  if (cand && *cand)
    g_signal_emit_by_name (bp->recv, "add-ice-candidate", mline, cand);
}

void
on_pair_ice_recv (GstElement *, guint mline, gchar *cand, gpointer data)
{
  auto *bp = static_cast<BarePair *> (data);
  if (cand && *cand)
    g_signal_emit_by_name (bp->send, "add-ice-candidate", mline, cand);
}

void
on_pair_pad (GstElement *, GstPad *pad, gpointer data)
{
  auto *bp = static_cast<BarePair *> (data);
  if (GST_PAD_DIRECTION (pad) != GST_PAD_SRC)
    return;
  GstElement *depay = make_depay ();
  GstElement *dec = gst_element_factory_make ("vp8dec", nullptr);
  GstElement *sink = gst_element_factory_make ("fakesink", nullptr);
  g_object_set (sink, "sync", FALSE, "async", FALSE, "enable-last-sample", FALSE, nullptr);
  GstPad *sp = gst_element_get_static_pad (sink, "sink");
  gst_pad_add_probe (sp, GST_PAD_PROBE_TYPE_BUFFER, FirstFrame::on_buffer, &bp->ff, nullptr);
  gst_object_unref (sp);
  gst_bin_add_many (GST_BIN (bp->pipeline), depay, dec, sink, nullptr);
  gst_element_link_many (depay, dec, sink, nullptr);
  gst_element_sync_state_with_parent (sink);
  gst_element_sync_state_with_parent (dec);
  gst_element_sync_state_with_parent (depay);
  GstPad *dp = gst_element_get_static_pad (depay, "sink");
  gst_pad_link (pad, dp);
  gst_object_unref (dp);
}

double
ttff_bare ()
{
  // The receiver's jitterbuffer latency matches rtcstreamsrc's default (50 ms).
  std::string desc = std::string (kSource) + " ! " + kVp8Enc + " ! " +
      bare_sender_branch ("send") + " webrtcbin name=recv bundle-policy=max-bundle latency=50";
  GstElement *pipeline = parse (desc);
  if (!pipeline)
    return NAN;
  // Leaked on purpose: webrtcbin may still call back while it shuts down.
  auto *bp = new BarePair ();
  bp->pipeline = pipeline;
  bp->send = gst_bin_get_by_name (GST_BIN (pipeline), "send");
  bp->recv = gst_bin_get_by_name (GST_BIN (pipeline), "recv");
  g_signal_connect (bp->send, "on-negotiation-needed", G_CALLBACK (on_pair_negotiation_needed), bp);
  g_signal_connect (bp->send, "on-ice-candidate", G_CALLBACK (on_pair_ice_send), bp);
  g_signal_connect (bp->recv, "on-ice-candidate", G_CALLBACK (on_pair_ice_recv), bp);
  g_signal_connect (bp->recv, "pad-added", G_CALLBACK (on_pair_pad), bp);
  gint64 t0 = now_us ();
  gst_element_set_state (pipeline, GST_STATE_PLAYING);
  bool ok = bp->ff.wait (pipeline, 15000);
  double ms = ok ? (double) (bp->ff.at - t0) / 1000.0 : NAN;
  gst_element_set_state (pipeline, GST_STATE_NULL);
  g_signal_handlers_disconnect_by_data (bp->send, bp);
  g_signal_handlers_disconnect_by_data (bp->recv, bp);
  gst_object_unref (bp->send);
  gst_object_unref (bp->recv);
  gst_object_unref (pipeline);
  return ms;
}

// Asks the rtcstream producer for its stats: consumers, encoders.
bool
producer_stats (Child &producer, unsigned *consumers, unsigned *encoders)
{
  producer.send ("stats");
  std::string l;
  if (!producer.wait_line ("STATS ", 5000, &l))
    return false;
  auto p = split (l, ' ', 3);
  if (p.size () < 3)
    return false;
  *consumers = (unsigned) std::stoul (p[1]);
  *encoders = (unsigned) std::stoul (p[2]);
  return true;
}

// --- orchestrator: CPU and memory ---------------------------------------------------

struct LoadResult {
  bool ok = false;
  size_t consumers = 0;
  double prod_cpu_pct = NAN, prod_rss_mb = NAN, prod_hwm_mb = NAN;
  double cons_cpu_pct = NAN, cons_rss_mb = NAN;
  double fps_per_consumer = NAN;
  double setup_s = NAN;  // consumer start to all consumers receiving
  unsigned stats_consumers = 0, stats_encoders = 0;
  bool have_stats = false;
};

bool
measure_window (const Options &o, Child &producer, Child &consumers, size_t n, LoadResult &r)
{
  g_usleep ((gulong) o.warmup_s * G_USEC_PER_SEC);
  std::string l;
  consumers.send ("count");
  if (!consumers.wait_line ("COUNT ", 5000, &l))
    return false;
  guint64 n0 = std::stoull (l.substr (6));
  ProcSample p0 = sample (producer.pid ()), c0 = sample (consumers.pid ());
  gint64 t0 = now_us ();
  g_usleep ((gulong) o.window_s * G_USEC_PER_SEC);
  ProcSample p1 = sample (producer.pid ()), c1 = sample (consumers.pid ());
  gint64 t1 = now_us ();
  consumers.send ("count");
  if (!consumers.wait_line ("COUNT ", 5000, &l))
    return false;
  guint64 n1 = std::stoull (l.substr (6));
  double secs = (double) (t1 - t0) / 1e6;
  r.prod_cpu_pct = (p1.cpu_s - p0.cpu_s) / secs * 100.0;
  r.cons_cpu_pct = (c1.cpu_s - c0.cpu_s) / secs * 100.0;
  r.prod_rss_mb = p1.rss_mb;
  r.prod_hwm_mb = p1.hwm_mb;
  r.cons_rss_mb = c1.rss_mb;
  r.fps_per_consumer = (double) (n1 - n0) / (double) n / secs;
  r.ok = true;
  return true;
}

LoadResult
load_rtcstream (const Options &o, unsigned port, size_t n, const std::string &tag)
{
  LoadResult r;
  r.consumers = n;
  std::string uri = "rtcstream://127.0.0.1:" + std::to_string (port) + "/load" + tag;
  Child producer, consumers;
  if (!producer.spawn (role_argv (o, {"producer", uri}), o.log_dir + "/rtcstream-producer-" + tag + ".log") ||
      !producer.wait_line ("READY", 15000))
    return r;
  gint64 t0 = now_us ();
  if (!consumers.spawn (role_argv (o, {"consumers", uri, std::to_string (n)}),
          o.log_dir + "/rtcstream-consumers-" + tag + ".log"))
    return r;
  if (!consumers.wait_line ("ALL", 60000)) {
    note ("rtcstream x%zu: not every consumer received frames", n);
    return r;
  }
  r.setup_s = (double) (now_us () - t0) / 1e6;
  if (!measure_window (o, producer, consumers, n, r))
    return r;
  r.have_stats = producer_stats (producer, &r.stats_consumers, &r.stats_encoders);
  consumers.finish (5000);
  producer.finish (5000);
  return r;
}

LoadResult
load_bare (const Options &o, size_t n, const std::string &tag)
{
  LoadResult r;
  r.consumers = n;
  Child producer, consumers;
  // Each relays to the other: finish both before either is destroyed.
  struct FinishBoth {
    Child &a, &b;
    ~FinishBoth () { a.finish (5000); b.finish (5000); }
  } finish_both{producer, consumers};
  producer.relay_to (&consumers);
  consumers.relay_to (&producer);
  // Consumers first: the producer offers as soon as it plays.
  if (!consumers.spawn (role_argv (o, {"bl-consumers", std::to_string (n)}), o.log_dir + "/bare-consumers-" + tag + ".log") ||
      !consumers.wait_line ("READY", 15000))
    return r;
  gint64 t0 = now_us ();
  if (!producer.spawn (role_argv (o, {"bl-producer", std::to_string (n)}), o.log_dir + "/bare-producer-" + tag + ".log"))
    return r;
  if (!consumers.wait_line ("ALL", 60000)) {
    note ("bare x%zu: not every consumer received frames", n);
    return r;
  }
  r.setup_s = (double) (now_us () - t0) / 1e6;
  if (!measure_window (o, producer, consumers, n, r))
    return r;
  return r;
}

// --- role: ttff-consumer (one rtcstreamsrc start per "run") ------------------------

// Reads "run URI" lines; for each, starts rtcstreamsrc ! fakesink and says
// "TTFF total phase..." (ms, nan when not reached).
int
role_ttff_consumer ()
{
  say ("READY");
  std::string line;
  while (std::getline (std::cin, line)) {
    if (line.rfind ("run ", 0) != 0)
      continue;
    // Leaked: webrtcbin's threads may still notify while it is torn down.
    auto *ph = new Phases ();
    double ms = ttff_rtcstream (line.substr (4), ph);
    std::string out = "TTFF " + fmt (ms, 2);
    for (int i = 0; i < kPhaseCount; i++)
      out += " " + fmt (ph->ms ((PhaseId) i), 2);
    say (out);
  }
  return 0;
}

// --- orchestrator: time to first frame of plugin builds side by side ---------------

int usage ();

// One build under test: its server, its producer, and its warm consumer
// process. Modes: 0 warm (rtcstream://), 1 cold (a new process a run,
// rtcstream://), 2 WHEP (warm, rtcstreamsrc whep+http:// to the server's
// WHEP endpoint, which joins the producer as a consumer itself), 3 the first
// viewer (warm) of a producer process started for it (registered, then left
// alone for 1 s, as a producer usually is before anyone watches).
constexpr int kTtffModes = 4;
const char *const kTtffModeNames[kTtffModes] = {"warm", "cold (new process a run)", "WHEP, warm",
    "first viewer of a new producer"};

struct TtffVariant {
  std::string label, build_dir;
  std::vector<std::string> env;
  std::unique_ptr<Child> server, producer, warm;
  std::string uri[kTtffModes];
  std::vector<double> total[kTtffModes];
  std::vector<double> phase[kTtffModes][kPhaseCount];
  int fails[kTtffModes] = {0, 0, 0, 0};
};

// Sends one run to consumer and records its line under mode.
bool
ttff_child_run (Child &consumer, TtffVariant &v, int mode)
{
  consumer.send ("run " + v.uri[mode]);
  std::string l;
  if (!consumer.wait_line ("TTFF ", 20000, &l)) {
    v.fails[mode]++;
    return false;
  }
  auto f = split (l, ' ', 2 + kPhaseCount);
  if (f.size () < 2 + (size_t) kPhaseCount || f[1] == "n/a") {
    v.fails[mode]++;
    return false;
  }
  v.total[mode].push_back (std::stod (f[1]));
  for (int i = 0; i < kPhaseCount; i++)
    if (f[2 + i] != "n/a")
      v.phase[mode][i].push_back (std::stod (f[2 + i]));
  return true;
}

// Waits until the rtcstream producer has no consumer and no encoder left.
bool
wait_idle (Child &producer)
{
  unsigned c = 1, e = 0;
  for (int i = 0; i < 100; i++) {
    if (producer_stats (producer, &c, &e) && c == 0 && e == 0)
      return true;
    g_usleep (50 * 1000);
  }
  note ("the producer still has %u consumers", c);
  return false;
}

// Starts a variant's server, producer and warm consumer.
bool
start_variant (const Options &o, TtffVariant &v)
{
  v.env = {"GST_PLUGIN_PATH=" + v.build_dir + "/plugins",
      "GST_REGISTRY=" + o.log_dir + "/registry-" + v.label + ".bin"};
  v.server = std::make_unique<Child> ();
  std::string l;
  if (!v.server->spawn ({v.build_dir + "/signalling/rtcstream-signalling", "--port", "0"},
          o.log_dir + "/ttff-signalling-" + v.label + ".log", v.env) ||
      !v.server->wait_line ("rtcstream-signalling listening on ", 10000, &l))
    return false;
  // "... ws://127.0.0.1:PORT/ws"
  const std::string port = std::to_string (std::stoul (l.substr (l.rfind (':') + 1)));
  v.uri[0] = v.uri[1] = "rtcstream://127.0.0.1:" + port + "/ttff";
  v.uri[2] = "whep+http://127.0.0.1:" + port + "/whep/ttff";
  v.uri[3] = "rtcstream://127.0.0.1:" + port + "/ttff-new";
  v.producer = std::make_unique<Child> ();
  if (!v.producer->spawn (role_argv (o, {"producer", v.uri[0]}),
          o.log_dir + "/ttff-producer-" + v.label + ".log", v.env) ||
      !v.producer->wait_line ("READY", 15000))
    return false;
  v.warm = std::make_unique<Child> ();
  if (!v.warm->spawn (role_argv (o, {"ttff-consumer"}),
          o.log_dir + "/ttff-consumer-" + v.label + ".log", v.env) ||
      !v.warm->wait_line ("READY", 15000))
    return false;
  // Unmeasured: the warm consumer's first start, and the server's first
  // WHEP session.
  for (int mode : {0, 2}) {
    TtffVariant scratch;
    scratch.uri[mode] = v.uri[mode];
    ttff_child_run (*v.warm, scratch, mode);
    wait_idle (*v.producer);
  }
  return true;
}

// `ttff`: the time to first frame of rtcstreamsrc for each --variant
// LABEL=BUILD_DIR (a build directory: its rtcstream-signalling and plugins),
// and of the bare webrtcbin pair, interleaved run by run. Warm: one consumer
// process per variant that has started rtcstreamsrc before (as the `run`
// command measures); cold: a fresh process per run (as gst-launch-1.0
// starts), which includes what a process does once (DTLS certificate, plugin
// loading); WHEP: through the server's WHEP endpoint.
int
cmd_ttff (const Options &o)
{
  std::vector<std::unique_ptr<TtffVariant>> variants;
  for (const std::string &spec : o.variants) {
    auto v = std::make_unique<TtffVariant> ();
    auto kv = split (spec, '=', 2);
    if (kv.size () != 2)
      return usage ();
    v->label = kv[0];
    v->build_dir = kv[1];
    if (!start_variant (o, *v)) {
      note ("%s did not start (logs in %s)", v->label.c_str (), o.log_dir.c_str ());
      return 1;
    }
    variants.push_back (std::move (v));
  }
  ttff_bare ();  // warm-up
  std::vector<double> bare;
  int bare_fail = 0;
  for (int i = 0; i < o.runs; i++) {
    // Rotate the order so no variant always runs first.
    for (size_t k = 0; k <= variants.size (); k++) {
      size_t idx = (k + (size_t) i) % (variants.size () + 1);
      if (idx == variants.size ()) {
        double ms = ttff_bare ();
        note ("ttff run %d bare: %s ms", i + 1, fmt (ms).c_str ());
        if (std::isnan (ms))
          bare_fail++;
        else
          bare.push_back (ms);
        g_usleep (100 * 1000);
        continue;
      }
      TtffVariant &v = *variants[idx];
      ttff_child_run (*v.warm, v, 0);
      wait_idle (*v.producer);
      Child cold;
      if (cold.spawn (role_argv (o, {"ttff-consumer"}), o.log_dir + "/ttff-cold-" + v.label + ".log",
              v.env) && cold.wait_line ("READY", 15000))
        ttff_child_run (cold, v, 1);
      else
        v.fails[1]++;
      cold.finish (5000);
      wait_idle (*v.producer);
      ttff_child_run (*v.warm, v, 2);
      wait_idle (*v.producer);
      {
        Child fresh;
        if (fresh.spawn (role_argv (o, {"producer", v.uri[3]}),
                o.log_dir + "/ttff-new-producer-" + v.label + ".log", v.env) &&
            fresh.wait_line ("READY", 15000)) {
          g_usleep (1000 * 1000);
          ttff_child_run (*v.warm, v, 3);
        } else {
          v.fails[3]++;
        }
        fresh.finish (5000);
      }
      auto last = [&v] (int mode) { return v.total[mode].empty () ? NAN : v.total[mode].back (); };
      note ("ttff run %d %s: warm %s ms, cold %s ms, WHEP %s ms, new producer %s ms", i + 1,
          v.label.c_str (), fmt (last (0)).c_str (), fmt (last (1)).c_str (),
          fmt (last (2)).c_str (), fmt (last (3)).c_str ());
    }
  }
  for (auto &v : variants) {
    v->warm->finish (5000);
    v->producer->finish (5000);
    v->server->finish (3000);
  }

  gchar *version = gst_version_string ();
  printf ("time to first frame, %d interleaved runs each; machine: %ld cores, %s; producer VP8 "
      "1280x720 30 fps\n\n", o.runs, sysconf (_SC_NPROCESSORS_ONLN), version);
  g_free (version);
  printf ("| variant | median ms | p90 ms | min ms | max ms | failed runs |\n|---|---:|---:|---:|---:|---:|\n");
  auto row = [] (const std::string &name, const std::vector<double> &v, int fails) {
    printf ("| %s | %s | %s | %s | %s | %d |\n", name.c_str (), fmt (percentile (v, 50)).c_str (),
        fmt (percentile (v, 90)).c_str (),
        fmt (v.empty () ? NAN : *std::min_element (v.begin (), v.end ())).c_str (),
        fmt (v.empty () ? NAN : *std::max_element (v.begin (), v.end ())).c_str (), fails);
  };
  for (int mode = 0; mode < kTtffModes; mode++)
    for (auto &v : variants)
      row (v->label + ", " + kTtffModeNames[mode], v->total[mode], v->fails[mode]);
  row ("bare webrtcbin pair in one process, warm", bare, bare_fail);
  printf ("\nmedian ms from rtcstreamsrc's start to each step:\n\n| variant |");
  for (int i = 0; i < kPhaseCount; i++)
    printf (" %s |", kPhaseNames[i]);
  printf (" first frame |\n|---|");
  for (int i = 0; i <= kPhaseCount; i++)
    printf ("---:|");
  printf ("\n");
  for (int mode = 0; mode < kTtffModes; mode++)
    for (auto &v : variants) {
      printf ("| %s, %s |", v->label.c_str (), kTtffModeNames[mode]);
      for (int i = 0; i < kPhaseCount; i++)
        printf (" %s |", fmt (percentile (v->phase[mode][i], 50)).c_str ());
      printf (" %s |\n", fmt (percentile (v->total[mode], 50)).c_str ());
    }
  printf ("\n");
  for (auto &v : variants)
    for (int mode = 0; mode < kTtffModes; mode++) {
      printf ("raw %s, %s:", v->label.c_str (), kTtffModeNames[mode]);
      for (double x : v->total[mode])
        printf (" %.0f", x);
      printf ("\n");
    }
  printf ("raw bare:");
  for (double x : bare)
    printf (" %.0f", x);
  printf ("\n");
  fflush (stdout);
  return 0;
}

// --- orchestrator: the run --------------------------------------------------------

int
cmd_run (const Options &o)
{
  GDateTime *dt = g_date_time_new_now_local ();
  gchar *date = g_date_time_format (dt, "%Y-%m-%d %H:%M");
  g_date_time_unref (dt);
  gint64 start = now_us ();

  Child server;
  if (!server.spawn ({o.signalling, "--port", "0"}, o.log_dir + "/signalling.log")) {
    note ("cannot start %s", o.signalling.c_str ());
    return 1;
  }
  std::string l;
  if (!server.wait_line ("rtcstream-signalling listening on ", 10000, &l)) {
    note ("the signalling server did not start");
    return 1;
  }
  unsigned port = 0;
  size_t colon = l.rfind (':');
  if (colon != std::string::npos)
    port = (unsigned) std::stoul (l.substr (colon + 1));
  note ("signalling server on port %u", port);

  // 1. Time to first frame.
  std::string uri = "rtcstream://127.0.0.1:" + std::to_string (port) + "/ttff";
  Child producer;
  if (!producer.spawn (role_argv (o, {"producer", uri}), o.log_dir + "/ttff-producer.log") ||
      !producer.wait_line ("READY", 15000)) {
    note ("the rtcstream producer did not register");
    return 1;
  }
  // One unmeasured run each: loads plugins, warms caches.
  note ("ttff: warm-up");
  ttff_rtcstream (uri);
  wait_idle (producer);
  ttff_bare ();
  std::vector<double> rtc, bare;
  int rtc_fail = 0, bare_fail = 0;
  for (int i = 0; i < o.runs; i++) {
    for (int k = 0; k < 2; k++) {
      bool do_rtc = (k == 0) == (i % 2 == 0);  // alternate which goes first
      if (do_rtc) {
        double ms = ttff_rtcstream (uri);
        note ("ttff run %d rtcstream: %s ms", i + 1, fmt (ms).c_str ());
        if (std::isnan (ms))
          rtc_fail++;
        else
          rtc.push_back (ms);
        wait_idle (producer);
      } else {
        double ms = ttff_bare ();
        note ("ttff run %d bare webrtcbin: %s ms", i + 1, fmt (ms).c_str ());
        if (std::isnan (ms))
          bare_fail++;
        else
          bare.push_back (ms);
      }
      g_usleep (200 * 1000);
    }
  }
  producer.finish (5000);

  // 2. Producer CPU and memory: repetitions interleaved, rtcstream then bare
  // for every consumer count, so that slow drifts hit both alike.
  std::vector<std::vector<LoadResult>> rtc_load (o.counts.size ()), bare_load (o.counts.size ());
  for (int rep = 0; rep < o.reps; rep++) {
    for (size_t i = 0; i < o.counts.size (); i++) {
      size_t n = o.counts[i];
      std::string tag = std::to_string (n) + "-" + std::to_string (rep + 1);
      note ("load %d/%d: rtcstream, %zu consumers", rep + 1, o.reps, n);
      rtc_load[i].push_back (load_rtcstream (o, port, n, tag));
      const LoadResult &r = rtc_load[i].back ();
      note ("  producer %s%% CPU, %s MB; consumers %s%% CPU; %s fps each; stats consumers=%u "
          "encoders=%u", fmt (r.prod_cpu_pct).c_str (), fmt (r.prod_rss_mb).c_str (),
          fmt (r.cons_cpu_pct).c_str (), fmt (r.fps_per_consumer).c_str (), r.stats_consumers,
          r.stats_encoders);
      note ("load %d/%d: bare webrtcbin, %zu consumers", rep + 1, o.reps, n);
      bare_load[i].push_back (load_bare (o, n, tag));
      const LoadResult &b = bare_load[i].back ();
      note ("  producer %s%% CPU, %s MB; consumers %s%% CPU; %s fps each",
          fmt (b.prod_cpu_pct).c_str (), fmt (b.prod_rss_mb).c_str (),
          fmt (b.cons_cpu_pct).c_str (), fmt (b.fps_per_consumer).c_str ());
    }
  }
  server.finish (3000);

  // Markdown.
  long ncpu = sysconf (_SC_NPROCESSORS_ONLN);
  gchar *version = gst_version_string ();
  printf ("rtcstream benchmark, %s, machine: %ld cores, %s; "
          "VP8 1280x720 30 fps (videotestsrc), vp8enc deadline=1 cpu-used=8 cbr 2 Mbit/s threads=1\n\n",
      date, ncpu, version);
  g_free (version);
  printf ("#### Time from consumer start to first decoded frame (%d interleaved runs each)\n\n", o.runs);
  printf ("| variant | median ms | p90 ms | min ms | max ms | failed runs |\n");
  printf ("|---|---:|---:|---:|---:|---:|\n");
  auto row = [] (const char *name, const std::vector<double> &v, int fails) {
    printf ("| %s | %s | %s | %s | %s | %d |\n", name, fmt (percentile (v, 50)).c_str (),
        fmt (percentile (v, 90)).c_str (),
        fmt (v.empty () ? NAN : *std::min_element (v.begin (), v.end ())).c_str (),
        fmt (v.empty () ? NAN : *std::max_element (v.begin (), v.end ())).c_str (), fails);
  };
  row ("rtcstream: `rtcstreamsrc ! fakesink` via rtcstream-signalling", rtc, rtc_fail);
  row ("bare webrtcbin pair in one process", bare, bare_fail);
  double ratio = percentile (rtc, 50) / percentile (bare, 50);
  printf ("\nmedian rtcstream / bare: **%s** (target <= 1.00: %s)\n\n", fmt (ratio, 2).c_str (),
      std::isnan (ratio) ? "n/a" : ratio <= 1.0 ? "met" : "NOT met");

  printf ("#### Producer CPU and memory, consumers receiving encoded VP8 "
          "(mean of %d interleaved repetitions, each a %d s window after %d s warm-up)\n\n",
      o.reps, o.window_s, o.warmup_s);
  printf ("| consumers | rtcstream CPU %% (range) | bare CPU %% (range) | CPU rtcstream/bare | "
          "rtcstream RSS MB | bare RSS MB | RSS rtcstream/bare | encoders (stats) | "
          "fps per consumer rtcstream / bare | consumer process CPU %% rtcstream / bare | "
          "s until all consumers receive rtcstream / bare |\n");
  printf ("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  // Over the repetitions that succeeded.
  auto stat = [] (const std::vector<LoadResult> &v, double LoadResult::*f, double *lo, double *hi) {
    double sum = 0;
    int n = 0;
    *lo = INFINITY;
    *hi = -INFINITY;
    for (const LoadResult &r : v) {
      if (!r.ok)
        continue;
      sum += r.*f;
      n++;
      *lo = std::min (*lo, r.*f);
      *hi = std::max (*hi, r.*f);
    }
    if (n == 0)
      *lo = *hi = NAN;
    return n ? sum / n : NAN;
  };
  auto mean = [&stat] (const std::vector<LoadResult> &v, double LoadResult::*f) {
    double lo, hi;
    return stat (v, f, &lo, &hi);
  };
  auto with_range = [&stat] (const std::vector<LoadResult> &v, double LoadResult::*f) {
    double lo, hi;
    double m = stat (v, f, &lo, &hi);
    return fmt (m) + " (" + fmt (lo, 0) + "–" + fmt (hi, 0) + ")";
  };
  std::vector<double> rtc_cpu, bare_cpu;
  for (size_t i = 0; i < o.counts.size (); i++) {
    const auto &r = rtc_load[i], &b = bare_load[i];
    double rc = mean (r, &LoadResult::prod_cpu_pct), bc = mean (b, &LoadResult::prod_cpu_pct);
    double rm = mean (r, &LoadResult::prod_rss_mb), bm = mean (b, &LoadResult::prod_rss_mb);
    rtc_cpu.push_back (rc);
    bare_cpu.push_back (bc);
    std::string enc;
    for (const LoadResult &x : r) {
      if (!x.have_stats)
        continue;
      std::string e = std::to_string (x.stats_encoders) + " (consumers " +
          std::to_string (x.stats_consumers) + ")";
      if (enc.find (e) == std::string::npos)
        enc += (enc.empty () ? "" : ", ") + e;
    }
    int failed = 0;
    for (const auto *v : {&r, &b})
      for (const LoadResult &x : *v)
        failed += x.ok ? 0 : 1;
    printf ("| %zu%s | %s | %s | %s | %s | %s | %s | %s | %s / %s | %s / %s | %s / %s |\n", o.counts[i],
        failed ? (" (" + std::to_string (failed) + " runs failed)").c_str () : "",
        with_range (r, &LoadResult::prod_cpu_pct).c_str (),
        with_range (b, &LoadResult::prod_cpu_pct).c_str (), fmt (rc / bc, 2).c_str (),
        fmt (rm).c_str (), fmt (bm).c_str (), fmt (rm / bm, 2).c_str (),
        enc.empty () ? "n/a" : enc.c_str (),
        fmt (mean (r, &LoadResult::fps_per_consumer)).c_str (),
        fmt (mean (b, &LoadResult::fps_per_consumer)).c_str (),
        fmt (mean (r, &LoadResult::cons_cpu_pct)).c_str (),
        fmt (mean (b, &LoadResult::cons_cpu_pct)).c_str (),
        fmt (mean (r, &LoadResult::setup_s), 2).c_str (),
        fmt (mean (b, &LoadResult::setup_s), 2).c_str ());
  }
  size_t lo = 0, hi = o.counts.size () - 1;
  double rr = rtc_cpu[hi] / rtc_cpu[lo], br = bare_cpu[hi] / bare_cpu[lo];
  printf ("\nCPU(%zu)/CPU(%zu): rtcstream **%s** (target < 2.00: %s), bare webrtcbin %s\n",
      o.counts[hi], o.counts[lo], fmt (rr, 2).c_str (),
      std::isnan (rr) ? "n/a" : rr < 2.0 ? "met" : "NOT met", fmt (br, 2).c_str ());
  printf ("\nraw time to first frame, ms: rtcstream [");
  for (size_t i = 0; i < rtc.size (); i++)
    printf ("%s%s", i ? ", " : "", fmt (rtc[i], 0).c_str ());
  printf ("]; bare [");
  for (size_t i = 0; i < bare.size (); i++)
    printf ("%s%s", i ? ", " : "", fmt (bare[i], 0).c_str ());
  printf ("]\nwhole run: %.0f s\n", (double) (now_us () - start) / 1e6);
  fflush (stdout);
  g_free (date);
  return 0;
}

int
usage ()
{
  fprintf (stderr,
      "usage: rtcstream-bench run --signalling PATH [--runs N] [--reps N] [--window S] [--warmup S]\n"
      "                           [--consumers 1,5,20] [--log-dir DIR]\n"
      "       rtcstream-bench ttff --variant LABEL=BUILD_DIR [--variant ...]\n"
      "                            [--runs N] [--log-dir DIR]\n"
      "       (roles started by them: producer URI | consumers URI N | bl-producer N | "
      "bl-consumers N | ttff-consumer | g2g-producer URI | g2g-consumer URI LATENCY | "
      "g2g-bl-producer | g2g-bl-consumer LATENCY)\n");
  return 2;
}

}  // namespace

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  signal (SIGPIPE, SIG_IGN);
  if (argc < 2)
    return usage ();
  std::string cmd = argv[1];
  if (cmd == "producer" && argc == 3)
    return role_producer (argv[2]);
  if (cmd == "consumers" && argc == 4)
    return role_consumers (argv[2], std::stoul (argv[3]));
  if (cmd == "bl-producer" && argc == 3)
    return role_bl_producer (std::stoul (argv[2]));
  if (cmd == "bl-consumers" && argc == 3)
    return role_bl_consumers (std::stoul (argv[2]));
  if (cmd == "ttff-consumer" && argc == 2)
    return role_ttff_consumer ();
  if (cmd == "g2g-producer" && argc == 3)
    return role_g2g_producer (argv[2]);
  if (cmd == "g2g-consumer" && argc == 4)
    return role_g2g_consumer (argv[2], std::stoi (argv[3]));
  if (cmd == "g2g-bl-producer" && argc == 2)
    return role_bl_producer (1, true);
  if (cmd == "g2g-bl-consumer" && argc == 3) {
    G2g g;
    return role_bl_consumers (1, (guint) std::stoul (argv[2]), &g);
  }
  if (cmd != "run" && cmd != "ttff")
    return usage ();

  Options o;
  char self[4096];
  ssize_t len = readlink ("/proc/self/exe", self, sizeof self - 1);
  if (len <= 0)
    return 1;
  self[len] = '\0';
  o.self = self;
  for (int i = 2; i + 1 < argc; i += 2) {
    std::string k = argv[i], v = argv[i + 1];
    if (k == "--signalling")
      o.signalling = v;
    else if (k == "--runs")
      o.runs = std::stoi (v);
    else if (k == "--window")
      o.window_s = std::stoi (v);
    else if (k == "--reps")
      o.reps = std::max (1, std::stoi (v));
    else if (k == "--warmup")
      o.warmup_s = std::stoi (v);
    else if (k == "--log-dir")
      o.log_dir = v;
    else if (k == "--variant")
      o.variants.push_back (v);
    else if (k == "--consumers") {
      o.counts.clear ();
      for (auto &s : split (v, ',', 100))
        o.counts.push_back (std::stoul (s));
    } else
      return usage ();
  }
  if (cmd == "ttff")
    return o.variants.empty () ? usage () : cmd_ttff (o);
  if (o.signalling.empty () || o.counts.empty ())
    return usage ();
  return cmd_run (o);
}
