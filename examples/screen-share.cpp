// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Shares an X desktop with remote control: the screen (ximagesrc) goes to
// viewers through rtcstreamsink, and what a viewer does with the mouse and
// the keyboard on the picture (the web page's <video>, or an rtcstreamsrc
// window) comes back as GstNavigation events, which this program turns into
// real X input with the XTest extension, while the sharer allows it.
//
//   rtcstream-screen-share rtcstream://HOST:PORT/NAME [--control]
//
// The sharer grants and revokes control by typing `grant` or `revoke` (one
// per line) on stdin; --control starts with it granted. Each change is
// announced to every viewer on the data channel as a text message
// {"control":"granted"} or {"control":"revoked"}, and so is the state to a
// viewer that joins. It prints one line per event on stdout:
//   registered                      the stream is listed
//   control granted|revoked
//   input mouse-button-press 1 at 160,360      injected into the X display
//   ignored mouse-move at 10,10 (control revoked)
// The display is $DISPLAY's. Ctrl-C (or SIGTERM) ends the stream.
#include <gst/gst.h>
#include <gst/video/navigation.h>
#include <glib-unix.h>

#include <X11/Xlib.h>
#include <X11/extensions/XTest.h>

#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <string>

namespace {

struct App {
  GMainLoop *loop = nullptr;
  GstElement *sink = nullptr;
  Display *display = nullptr;  // used on the main thread only
  std::atomic<bool> control{false};
};

void
say (const std::string &line)
{
  // Called from several threads: one write per line.
  std::fputs ((line + "\n").c_str (), stdout);
  std::fflush (stdout);
}

void
announce (App *app, const gchar *peer_or_null)
{
  const char *msg = app->control ? "{\"control\":\"granted\"}" : "{\"control\":\"revoked\"}";
  guint sent = 0;
  g_signal_emit_by_name (app->sink, "send-text", peer_or_null, msg, &sent);
}

// One navigation event, copied off the streaming thread.
struct Input {
  App *app;
  std::string type, key;
  double x = -1, y = -1, scroll_x = 0, scroll_y = 0;
  int button = 0;
};

// Main thread: the event as X input.
gboolean
inject (gpointer data)
{
  auto *in = static_cast<Input *> (data);
  App *app = in->app;
  std::string where = in->x >= 0
      ? " at " + std::to_string ((int) std::lround (in->x)) + "," + std::to_string ((int) std::lround (in->y))
      : "";
  std::string what = in->type + (in->button ? " " + std::to_string (in->button) : "") +
      (in->key.empty () ? "" : " " + in->key) + where;
  if (!app->control) {
    say ("ignored " + what + " (control revoked)");
    return G_SOURCE_REMOVE;
  }
  Display *d = app->display;
  if (in->x >= 0)
    XTestFakeMotionEvent (d, -1, (int) std::lround (in->x), (int) std::lround (in->y), CurrentTime);
  if (in->type == "mouse-button-press" || in->type == "mouse-button-release") {
    XTestFakeButtonEvent (d, in->button, in->type == "mouse-button-press", CurrentTime);
  } else if (in->type == "mouse-scroll") {
    // X has no scroll events: buttons 4/5 (up/down) and 6/7 (left/right).
    auto click = [&] (unsigned button, int times) {
      for (int i = 0; i < times; i++) {
        XTestFakeButtonEvent (d, button, True, CurrentTime);
        XTestFakeButtonEvent (d, button, False, CurrentTime);
      }
    };
    click (in->scroll_y > 0 ? 4 : 5, (int) std::lround (std::fabs (in->scroll_y)));
    click (in->scroll_x > 0 ? 6 : 7, (int) std::lround (std::fabs (in->scroll_x)));
  } else if (in->type == "key-press" || in->type == "key-release") {
    // GStreamer's key names are X keysym names ("a", "Return", "BackSpace").
    KeySym sym = XStringToKeysym (in->key.c_str ());
    KeyCode code = sym != NoSymbol ? XKeysymToKeycode (d, sym) : 0;
    if (!code) {
      say ("ignored " + what + " (no such key here)");
      return G_SOURCE_REMOVE;
    }
    XTestFakeKeyEvent (d, code, in->type == "key-press", CurrentTime);
  }
  XFlush (d);
  if (in->type != "mouse-move")  // moves are many: not printed
    say ("input " + what);
  return G_SOURCE_REMOVE;
}

// Streaming thread (the sink's): navigation events on their way upstream.
GstPadProbeReturn
on_upstream (GstPad *, GstPadProbeInfo *info, gpointer data)
{
  GstEvent *ev = GST_PAD_PROBE_INFO_EVENT (info);
  if (GST_EVENT_TYPE (ev) != GST_EVENT_NAVIGATION)
    return GST_PAD_PROBE_OK;
  const GstStructure *s = gst_event_get_structure (ev);
  auto *in = new Input ();
  in->app = static_cast<App *> (data);
  const char *type = gst_structure_get_string (s, "event");
  in->type = type ? type : "";
  gst_navigation_event_get_coordinates (ev, &in->x, &in->y);
  gst_structure_get_int (s, "button", &in->button);
  gst_structure_get_double (s, "delta_pointer_x", &in->scroll_x);
  gst_structure_get_double (s, "delta_pointer_y", &in->scroll_y);
  if (const char *key = gst_structure_get_string (s, "key"))
    in->key = key;
  g_idle_add_full (G_PRIORITY_DEFAULT, inject, in,
      [] (gpointer p) { delete static_cast<Input *> (p); });
  return GST_PAD_PROBE_DROP;  // nothing upstream wants it
}

// Main thread: the sharer's commands.
gboolean
on_stdin (GIOChannel *ch, GIOCondition cond, gpointer data)
{
  auto *app = static_cast<App *> (data);
  gchar *line = nullptr;
  if ((cond & (G_IO_HUP | G_IO_ERR)) && !(cond & G_IO_IN))
    return G_SOURCE_REMOVE;
  if (g_io_channel_read_line (ch, &line, nullptr, nullptr, nullptr) != G_IO_STATUS_NORMAL)
    return G_SOURCE_REMOVE;  // stdin closed: the state stays as it is
  std::string cmd = g_strstrip (line);
  g_free (line);
  if (cmd == "grant" || cmd == "revoke") {
    app->control = cmd == "grant";
    say (std::string ("control ") + (app->control ? "granted" : "revoked"));
    announce (app, nullptr);
  } else if (!cmd.empty ()) {
    say ("unknown command '" + cmd + "': type grant or revoke");
  }
  return G_SOURCE_CONTINUE;
}

// The element's worker thread: a viewer's data channel opened.
void
on_channel_open (GstElement *, const gchar *peer, gpointer data)
{
  announce (static_cast<App *> (data), peer);
}

gboolean
on_bus (GstBus *, GstMessage *msg, gpointer data)
{
  auto *app = static_cast<App *> (data);
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    GError *err = nullptr;
    gchar *debug = nullptr;
    gst_message_parse_error (msg, &err, &debug);
    g_printerr ("error from %s: %s (%s)\n", GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)),
        err->message, debug ? debug : "");
    g_error_free (err);
    g_free (debug);
    g_main_loop_quit (app->loop);
  } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT &&
      gst_message_has_name (msg, "rtcstream-registered")) {
    say ("registered");
  }
  return G_SOURCE_CONTINUE;
}

}  // namespace

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  if (argc < 2 || (argc > 2 && std::strcmp (argv[2], "--control") != 0)) {
    g_printerr ("usage: %s rtcstream://HOST:PORT/NAME [--control]\n", argv[0]);
    return 2;
  }
  App app;
  app.control = argc > 2;
  app.display = XOpenDisplay (nullptr);
  int ev, err, major, minor;
  if (!app.display) {
    g_printerr ("cannot open the X display '%s'\n", g_getenv ("DISPLAY") ? g_getenv ("DISPLAY") : "");
    return 1;
  }
  if (!XTestQueryExtension (app.display, &ev, &err, &major, &minor)) {
    g_printerr ("the X server has no XTest extension: viewers could not control it\n");
    return 1;
  }
  // The screen as it is, 15 frames a second, and the pointer drawn in.
  std::string desc = "ximagesrc use-damage=false show-pointer=true ! video/x-raw,framerate=15/1 ! "
      "videoconvert name=convert ! rtcstreamsink name=sink data-channel=true uri=" +
      std::string (argv[1]);
  GError *error = nullptr;
  GstElement *pipeline = gst_parse_launch (desc.c_str (), &error);
  if (!pipeline) {
    g_printerr ("cannot build the pipeline: %s\n", error ? error->message : "?");
    g_clear_error (&error);
    return 1;
  }
  app.loop = g_main_loop_new (nullptr, FALSE);
  app.sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  GstElement *convert = gst_bin_get_by_name (GST_BIN (pipeline), "convert");
  GstPad *pad = gst_element_get_static_pad (convert, "src");
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_EVENT_UPSTREAM, on_upstream, &app, nullptr);
  gst_object_unref (pad);
  gst_object_unref (convert);
  g_signal_connect (app.sink, "data-channel-opened", G_CALLBACK (on_channel_open), &app);

  GIOChannel *in = g_io_channel_unix_new (0);
  guint in_watch = g_io_add_watch (in, (GIOCondition) (G_IO_IN | G_IO_HUP | G_IO_ERR), on_stdin, &app);
  GstBus *bus = gst_element_get_bus (pipeline);
  gst_bus_add_watch (bus, on_bus, &app);
  auto quit = [] (gpointer l) -> gboolean {
    g_main_loop_quit (static_cast<GMainLoop *> (l));
    return G_SOURCE_REMOVE;
  };
  g_unix_signal_add (SIGINT, quit, app.loop);
  g_unix_signal_add (SIGTERM, quit, app.loop);

  say (std::string ("control ") + (app.control ? "granted" : "revoked"));
  int rc = 0;
  if (gst_element_set_state (pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    rc = 1;
  else
    g_main_loop_run (app.loop);
  gst_element_set_state (pipeline, GST_STATE_NULL);
  g_source_remove (in_watch);
  g_io_channel_unref (in);
  gst_bus_remove_watch (bus);
  gst_object_unref (bus);
  gst_object_unref (app.sink);
  gst_object_unref (pipeline);
  // Idle injections that did not run hold no X state: freed with the context.
  while (g_main_context_iteration (nullptr, FALSE)) {
  }
  g_main_loop_unref (app.loop);
  XCloseDisplay (app.display);
  return rc;
}
