// SPDX-License-Identifier: LGPL-2.1-or-later
//
// interactive.cpp: a stream viewers can click into and talk to.
//
// Publishes  videotestsrc ! navigationtest ! videoconvert ! rtcstreamsink data-channel=true
// (navigationtest draws where the viewer's mouse is and where it clicked), and
//  - prints every GstNavigation event that comes back from viewers (a browser's
//    video element, or an rtcstreamsrc's window) as it reaches navigationtest;
//  - answers every text message on the data channel with "echo: TEXT", and
//    greets each viewer when its channel opens.
// Each line it prints is one JSON object, so a program (our browser test) can
// read it as well as a person:
//   {"event":"navigation","type":"mouse-button-press","x":80.0,"y":120.0,"button":1}
//   {"event":"text","peer":"...","text":"hi"}
//   {"event":"viewer-joined","peer":"..."}
//
// Run, with rtcstream-signalling running:
//   GST_PLUGIN_PATH=build/plugins build/examples/rtcstream-interactive rtcstream://127.0.0.1:8443/play
// and open http://127.0.0.1:8443/?stream=play, then move the mouse over the video.
#include <gst/gst.h>
#include <gst/video/navigation.h>
#include <glib-unix.h>

#include <cstdio>
#include <string>

namespace {

// One JSON string value (quotes and escapes included).
std::string
quoted (const char *s)
{
  std::string out = "\"";
  for (const char *p = s; p && *p; p++) {
    unsigned char c = *p;
    if (c == '"' || c == '\\')
      out += std::string ("\\") + (char) c;
    else if (c < 0x20)
      out += "\\u00" + std::string (1, "0123456789abcdef"[c >> 4]) + "0123456789abcdef"[c & 15];
    else
      out += (char) c;
  }
  return out + "\"";
}

void
emit_line (const std::string &json)
{
  // Called from several threads: one write per line.
  std::fputs ((json + "\n").c_str (), stdout);
  std::fflush (stdout);
}

// navigationtest's src pad: navigation events coming upstream from the sink.
GstPadProbeReturn
on_upstream (GstPad *, GstPadProbeInfo *info, gpointer)
{
  GstEvent *ev = GST_PAD_PROBE_INFO_EVENT (info);
  if (GST_EVENT_TYPE (ev) != GST_EVENT_NAVIGATION)
    return GST_PAD_PROBE_OK;
  const GstStructure *s = gst_event_get_structure (ev);
  std::string line = "{\"event\":\"navigation\",\"type\":" +
      quoted (gst_structure_get_string (s, "event"));
  gdouble x, y;
  if (gst_navigation_event_get_coordinates (ev, &x, &y))
    line += ",\"x\":" + std::to_string (x) + ",\"y\":" + std::to_string (y);
  gint button;
  if (gst_structure_get_int (s, "button", &button))
    line += ",\"button\":" + std::to_string (button);
  if (const char *key = gst_structure_get_string (s, "key"))
    line += ",\"key\":" + quoted (key);
  emit_line (line + "}");
  return GST_PAD_PROBE_OK;
}

// The element's signals come from its worker thread: short and non-blocking.
void
on_text (GstElement *sink, const gchar *peer, const gchar *text, gpointer)
{
  emit_line ("{\"event\":\"text\",\"peer\":" + quoted (peer) + ",\"text\":" + quoted (text) + "}");
  std::string reply = std::string ("echo: ") + text;
  guint sent = 0;
  g_signal_emit_by_name (sink, "send-text", peer, reply.c_str (), &sent);
}

void
on_binary (GstElement *, const gchar *peer, GBytes *data, gpointer)
{
  emit_line ("{\"event\":\"binary\",\"peer\":" + quoted (peer) + ",\"size\":" +
      std::to_string (g_bytes_get_size (data)) + "}");
}

void
on_channel_open (GstElement *sink, const gchar *peer, gpointer)
{
  emit_line ("{\"event\":\"channel-open\",\"peer\":" + quoted (peer) + "}");
  guint sent = 0;
  g_signal_emit_by_name (sink, "send-text", peer, "welcome: click into the video", &sent);
}

void
on_joined (GstElement *, const gchar *peer, GstElement *, gpointer)
{
  emit_line ("{\"event\":\"viewer-joined\",\"peer\":" + quoted (peer) + "}");
}

void
on_left (GstElement *, const gchar *peer, GstElement *, gpointer)
{
  emit_line ("{\"event\":\"viewer-left\",\"peer\":" + quoted (peer) + "}");
}

gboolean
on_bus (GstBus *, GstMessage *msg, gpointer loop)
{
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    GError *err = nullptr;
    gchar *debug = nullptr;
    gst_message_parse_error (msg, &err, &debug);
    g_printerr ("error from %s: %s (%s)\n", GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)),
        err->message, debug ? debug : "");
    g_error_free (err);
    g_free (debug);
    g_main_loop_quit (static_cast<GMainLoop *> (loop));
  } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT &&
      gst_message_has_name (msg, "rtcstream-registered")) {
    emit_line ("{\"event\":\"registered\"}");
  }
  return G_SOURCE_CONTINUE;
}

}  // namespace

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  if (argc < 2) {
    g_printerr ("usage: %s rtcstream://HOST:PORT/NAME\n", argv[0]);
    return 2;
  }
  std::string desc = "videotestsrc is-live=true ! "
      "video/x-raw,width=320,height=240,framerate=30/1 ! navigationtest name=nav ! "
      "videoconvert ! rtcstreamsink name=sink data-channel=true uri=" + std::string (argv[1]);
  GError *err = nullptr;
  GstElement *pipeline = gst_parse_launch (desc.c_str (), &err);
  if (!pipeline) {
    g_printerr ("cannot build the pipeline: %s\n", err ? err->message : "?");
    g_clear_error (&err);
    return 1;
  }
  GMainLoop *loop = g_main_loop_new (nullptr, FALSE);
  GstElement *sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  GstElement *nav = gst_bin_get_by_name (GST_BIN (pipeline), "nav");
  GstPad *nav_src = gst_element_get_static_pad (nav, "src");
  gst_pad_add_probe (nav_src, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, on_upstream, nullptr, nullptr);
  gst_object_unref (nav_src);
  gst_object_unref (nav);
  g_signal_connect (sink, "text-message", G_CALLBACK (on_text), nullptr);
  g_signal_connect (sink, "binary-message", G_CALLBACK (on_binary), nullptr);
  g_signal_connect (sink, "data-channel-opened", G_CALLBACK (on_channel_open), nullptr);
  g_signal_connect (sink, "consumer-added", G_CALLBACK (on_joined), nullptr);
  g_signal_connect (sink, "consumer-removed", G_CALLBACK (on_left), nullptr);
  gst_object_unref (sink);

  GstBus *bus = gst_element_get_bus (pipeline);
  gst_bus_add_watch (bus, on_bus, loop);
  auto quit = [] (gpointer l) -> gboolean {
    g_main_loop_quit (static_cast<GMainLoop *> (l));
    return G_SOURCE_REMOVE;
  };
  g_unix_signal_add (SIGINT, quit, loop);
  g_unix_signal_add (SIGTERM, quit, loop);

  int rc = 0;
  if (gst_element_set_state (pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    rc = 1;
  else
    g_main_loop_run (loop);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_bus_remove_watch (bus);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
  g_main_loop_unref (loop);
  return rc;
}
