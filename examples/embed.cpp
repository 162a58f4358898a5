// SPDX-License-Identifier: LGPL-2.1-or-later
//
// embed.cpp: publishing from an application of your own with rtcstreamsink.
//
// Builds  videotestsrc ! capsfilter ! rtcstreamsink.video_0
//         audiotestsrc ! rtcstreamsink.audio_0
// tells when a viewer joins or leaves (the consumer-added / consumer-removed
// signals) and prints the sink's "stats" every 2 seconds. Ctrl-C ends the
// stream cleanly (EOS, so viewers see end-of-stream); a second Ctrl-C quits.
//
// It needs only GStreamer: the element is created by name and used through
// GObject properties and signals, so neither the plugin nor the rtcstream
// library is linked in.
//
// Build:
//   g++ -std=c++17 -Wall -Wextra examples/embed.cpp -o embed $(pkg-config --cflags --libs gstreamer-1.0)
// (the pkg-config part after the source file: with --as-needed, the default on
// Debian and Ubuntu, libraries named before it are dropped and linking fails)
// or with meson, in this checkout's build directory:
//   ninja -C build examples/rtcstream-embed
//
// Run, with rtcstream-signalling running:
//   GST_PLUGIN_PATH=build/plugins ./embed rtcstream://127.0.0.1:8443/app
// and watch it:
//   examples/watch.sh 127.0.0.1:8443 app
#include <gst/gst.h>
#include <glib-unix.h>

#include <csignal>
#include <cstdio>
#include <cstring>

namespace {

struct App {
  GMainLoop *loop = nullptr;
  GstElement *pipeline = nullptr;
  GstElement *sink = nullptr;
  bool eos_sent = false;
};

// consumer-added and consumer-removed are emitted from the element's own
// worker thread, not the main thread: keep handlers short, never block, and
// guard anything they share with the rest of the application. webrtcbin is
// the consumer's webrtcbin (a child of the sink), valid during the call; take
// a ref to keep it.
void
on_consumer_added (GstElement *, const gchar *peer_id, GstElement *webrtcbin, gpointer)
{
  std::printf ("viewer joined: %s (served by %s)\n", peer_id,
      webrtcbin ? GST_OBJECT_NAME (webrtcbin) : "?");
  std::fflush (stdout);
}

void
on_consumer_removed (GstElement *, const gchar *peer_id, GstElement *, gpointer)
{
  std::printf ("viewer left:   %s\n", peer_id);
  std::fflush (stdout);
}

// Prints one consumer-SESSION sub-structure of the stats.
gboolean
print_consumer (GQuark field, const GValue *value, gpointer)
{
  const char *name = g_quark_to_string (field);
  if (!g_str_has_prefix (name, "consumer-") || !GST_VALUE_HOLDS_STRUCTURE (value))
    return TRUE;
  const GstStructure *c = gst_value_get_structure (value);
  guint64 bytes = 0;
  gdouble rtt = -1.0;
  gst_structure_get_uint64 (c, "bytes-sent", &bytes);
  gst_structure_get_double (c, "rtt-ms", &rtt);
  char rtt_text[32] = "unknown";
  if (rtt >= 0)
    g_snprintf (rtt_text, sizeof rtt_text, "%.1f ms", rtt);
  std::printf ("  viewer %s: state=%s codecs=%s sent=%" G_GUINT64_FORMAT " bytes rtt=%s\n",
      gst_structure_get_string (c, "peer-id"), gst_structure_get_string (c, "state"),
      gst_structure_get_string (c, "codecs"), bytes, rtt_text);
  return TRUE;
}

gboolean
print_stats (gpointer data)
{
  auto *app = static_cast<App *> (data);
  GstStructure *stats = nullptr;
  g_object_get (app->sink, "stats", &stats, nullptr);
  if (!stats)
    return G_SOURCE_CONTINUE;
  guint consumers = 0, encoders = 0;
  gst_structure_get_uint (stats, "consumers", &consumers);
  gst_structure_get_uint (stats, "encoders", &encoders);
  std::printf ("stats: %u viewer(s), %u encoder(s) running\n", consumers, encoders);
  gst_structure_foreach (stats, print_consumer, nullptr);
  std::fflush (stdout);
  gst_structure_free (stats);
  return G_SOURCE_CONTINUE;
}

gboolean
on_bus_message (GstBus *, GstMessage *msg, gpointer data)
{
  auto *app = static_cast<App *> (data);
  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ERROR:
    case GST_MESSAGE_WARNING: {
      GError *err = nullptr;
      gchar *dbg = nullptr;
      bool error = GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR;
      if (error)
        gst_message_parse_error (msg, &err, &dbg);
      else
        gst_message_parse_warning (msg, &err, &dbg);
      std::fprintf (stderr, "%s from %s: %s\n", error ? "ERROR" : "WARNING",
          GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)), err->message);
      g_clear_error (&err);
      g_free (dbg);
      if (error)
        g_main_loop_quit (app->loop);
      break;
    }
    case GST_MESSAGE_EOS:
      std::printf ("end of stream\n");
      g_main_loop_quit (app->loop);
      break;
    case GST_MESSAGE_ELEMENT: {
      // Posted once the server accepted the stream name.
      const GstStructure *s = gst_message_get_structure (msg);
      if (s && gst_structure_has_name (s, "rtcstream-registered"))
        std::printf ("published as '%s'\n", gst_structure_get_string (s, "stream-name"));
      break;
    }
    default:
      break;
  }
  std::fflush (stdout);
  return G_SOURCE_CONTINUE;
}

gboolean
on_sigint (gpointer data)
{
  auto *app = static_cast<App *> (data);
  if (app->eos_sent) {
    g_main_loop_quit (app->loop);
    return G_SOURCE_CONTINUE;
  }
  // EOS on every input makes rtcstreamsink end its sessions, then post EOS.
  std::printf ("stopping (Ctrl-C again to quit at once)\n");
  app->eos_sent = true;
  gst_element_send_event (app->pipeline, gst_event_new_eos ());
  return G_SOURCE_CONTINUE;
}

GstElement *
make (const char *factory, const char *name)
{
  GstElement *e = gst_element_factory_make (factory, name);
  if (!e)
    std::fprintf (stderr, "no element '%s'%s\n", factory,
        std::strncmp (factory, "rtcstream", 9) == 0
            ? ": build the project and set GST_PLUGIN_PATH=build/plugins" : "");
  return e;
}

}  // namespace

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  const char *uri = argc > 1 ? argv[1] : "rtcstream://127.0.0.1:8443/app";

  App app;
  app.pipeline = gst_pipeline_new ("embed");
  GstElement *vsrc = make ("videotestsrc", nullptr);
  GstElement *vcaps = make ("capsfilter", nullptr);
  GstElement *asrc = make ("audiotestsrc", nullptr);
  app.sink = make ("rtcstreamsink", "sink");
  if (!vsrc || !vcaps || !asrc || !app.sink)
    return 1;

  g_object_set (vsrc, "is-live", TRUE, "pattern", 18 /* ball */, nullptr);
  g_object_set (asrc, "is-live", TRUE, nullptr);
  GstCaps *caps = gst_caps_from_string ("video/x-raw,width=640,height=480,framerate=30/1");
  g_object_set (vcaps, "caps", caps, nullptr);
  gst_caps_unref (caps);
  g_object_set (app.sink, "uri", uri, nullptr);
  // Optional: prefer H264 for viewers that accept it.
  // g_object_set (app.sink, "video-codecs", "H264,VP8", nullptr);

  gst_bin_add_many (GST_BIN (app.pipeline), vsrc, vcaps, asrc, app.sink, nullptr);
  // Request the sink's pads explicitly, before the pipeline starts: pads
  // cannot be added to a running rtcstreamsink.
  GstPad *video_pad = gst_element_request_pad_simple (app.sink, "video_%u");
  GstPad *audio_pad = gst_element_request_pad_simple (app.sink, "audio_%u");
  GstPad *vcaps_src = gst_element_get_static_pad (vcaps, "src");
  GstPad *asrc_src = gst_element_get_static_pad (asrc, "src");
  bool linked = gst_element_link (vsrc, vcaps) &&
      gst_pad_link (vcaps_src, video_pad) == GST_PAD_LINK_OK &&
      gst_pad_link (asrc_src, audio_pad) == GST_PAD_LINK_OK;
  gst_object_unref (vcaps_src);
  gst_object_unref (asrc_src);
  if (!linked) {
    std::fprintf (stderr, "could not link the pipeline\n");
    return 1;
  }

  g_signal_connect (app.sink, "consumer-added", G_CALLBACK (on_consumer_added), nullptr);
  g_signal_connect (app.sink, "consumer-removed", G_CALLBACK (on_consumer_removed), nullptr);

  app.loop = g_main_loop_new (nullptr, FALSE);
  GstBus *bus = gst_pipeline_get_bus (GST_PIPELINE (app.pipeline));
  guint bus_watch = gst_bus_add_watch (bus, on_bus_message, &app);
  gst_object_unref (bus);
  guint stats_timer = g_timeout_add_seconds (2, print_stats, &app);
  guint sigint = g_unix_signal_add (SIGINT, on_sigint, &app);

  std::printf ("publishing on %s (Ctrl-C to stop)\n", uri);
  std::fflush (stdout);
  if (gst_element_set_state (app.pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    // The reason is on the bus (e.g. no uri): show it.
    GstBus *b = gst_pipeline_get_bus (GST_PIPELINE (app.pipeline));
    if (GstMessage *msg = gst_bus_pop_filtered (b, GST_MESSAGE_ERROR)) {
      on_bus_message (b, msg, &app);
      gst_message_unref (msg);
    }
    gst_object_unref (b);
  } else {
    g_main_loop_run (app.loop);
  }

  gst_element_set_state (app.pipeline, GST_STATE_NULL);
  g_source_remove (sigint);
  g_source_remove (stats_timer);
  g_source_remove (bus_watch);
  gst_element_release_request_pad (app.sink, video_pad);
  gst_element_release_request_pad (app.sink, audio_pad);
  gst_object_unref (video_pad);
  gst_object_unref (audio_pad);
  gst_object_unref (app.pipeline);
  g_main_loop_unref (app.loop);
  return 0;
}
