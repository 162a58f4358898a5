// SPDX-License-Identifier: LGPL-2.1-or-later
//
// netsim-gst: gst-launch for tests that run pipelines inside network
// namespaces (as child processes: a namespace belongs to a process, not to
// a pipeline). It plays a pipeline description and answers on stdout:
//
//   netsim-gst [--count NAME]... [--every MS] DESCRIPTION...
//
// stdout, one line per event:
//   playing                      the pipeline reached PLAYING
//   registered                   an rtcstreamsink's stream is listed
//   warning TEXT / error TEXT    from the bus (after an error it exits 1)
//   eos                          then it exits 0
//   frames NAME N BYTES MS       buffers and bytes that reached NAME's sink
//                                pad so far, MS after start: on "count NAME",
//                                and every MS ms for each --count with --every
//                                (an element made later, say inside
//                                rtcstreamsink, is counted from the first
//                                "count NAME" on)
// stdin, one command per line:
//   count NAME                   -> frames ...
//   stats NAME                   -> stats NAME STRUCTURE (NAME's "stats")
//   caps NAME                    -> caps NAME CAPS (of NAME's src pad, or none)
//   set NAME PROPERTY VALUE      -> ok | error ...
// SIGTERM or the end of stdin stops the pipeline and exits 0.
//
// Threads: the main loop (bus, stdin, timer) runs on the main thread; the
// counting pad probes run on streaming threads and only touch atomics.
#include <gst/gst.h>
#include <glib-unix.h>

#include <atomic>
#include <cstdio>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

namespace {

struct Counter {
  std::atomic<guint64> frames {0}, bytes {0};
};

struct App {
  GstElement *pipeline = nullptr;
  GMainLoop *loop = nullptr;
  std::map<std::string, std::unique_ptr<Counter>> counters;
  gint64 start_us = g_get_monotonic_time ();
  int exit_code = 0;
};

void
say (const std::string &line)
{
  fputs (line.c_str (), stdout);
  fputc ('\n', stdout);
  fflush (stdout);
}

std::string
one_line (std::string s)
{
  for (char &c : s)
    if (c == '\n' || c == '\r')
      c = ' ';
  return s;
}

GstElement *find (App &app, const std::string &name);
GstPadProbeReturn count_buffer (GstPad *, GstPadProbeInfo *info, gpointer data);

// Counts buffers reaching the sink pad of element `name` (inside bins too)
// from now on. False when there is no such element.
bool
start_counting (App &app, const std::string &name)
{
  g_autoptr (GstElement) e = find (app, name);
  g_autoptr (GstPad) pad = e ? gst_element_get_static_pad (e, "sink") : nullptr;
  if (!pad)
    return false;
  auto c = std::make_unique<Counter> ();
  gst_pad_add_probe (pad, GST_PAD_PROBE_TYPE_BUFFER, count_buffer, c.get (), nullptr);
  app.counters[name] = std::move (c);  // counters live as long as the process
  return true;
}

void
report_frames (App &app, const std::string &name)
{
  auto it = app.counters.find (name);
  // An element made later (inside rtcstreamsink, say) is counted from the
  // first time it is asked for.
  if (it == app.counters.end () && start_counting (app, name))
    it = app.counters.find (name);
  if (it == app.counters.end ()) {
    say ("error no element " + name + " to count");
    return;
  }
  say ("frames " + name + " " + std::to_string (it->second->frames.load ()) + " " +
      std::to_string (it->second->bytes.load ()) + " " +
      std::to_string ((g_get_monotonic_time () - app.start_us) / 1000));
}

GstElement *
find (App &app, const std::string &name)
{
  return gst_bin_get_by_name (GST_BIN (app.pipeline), name.c_str ());  // transfer full
}

void
command (App &app, const std::string &line)
{
  std::istringstream in (line);
  std::string verb, name;
  in >> verb >> name;
  if (verb == "count") {
    report_frames (app, name);
  } else if (verb == "stats") {
    g_autoptr (GstElement) e = find (app, name);
    GstStructure *s = nullptr;
    if (e && g_object_class_find_property (G_OBJECT_GET_CLASS (e), "stats"))
      g_object_get (e, "stats", &s, nullptr);
    g_autofree char *text = s ? gst_structure_to_string (s) : g_strdup ("none");
    if (s)
      gst_structure_free (s);
    say ("stats " + name + " " + one_line (text));
  } else if (verb == "caps") {
    g_autoptr (GstElement) e = find (app, name);
    g_autoptr (GstPad) pad = e ? gst_element_get_static_pad (e, "src") : nullptr;
    g_autoptr (GstCaps) caps = pad ? gst_pad_get_current_caps (pad) : nullptr;
    g_autofree char *text = caps ? gst_caps_to_string (caps) : g_strdup ("none");
    say ("caps " + name + " " + one_line (text));
  } else if (verb == "set") {
    std::string prop, value;
    in >> prop;
    std::getline (in >> std::ws, value);
    g_autoptr (GstElement) e = find (app, name);
    if (!e || !g_object_class_find_property (G_OBJECT_GET_CLASS (e), prop.c_str ())) {
      say ("error no property " + name + "." + prop);
      return;
    }
    gst_util_set_object_arg (G_OBJECT (e), prop.c_str (), value.c_str ());
    say ("ok");
  } else if (!verb.empty ()) {
    say ("error unknown command: " + one_line (line));
  }
}

gboolean
on_stdin (GIOChannel *ch, GIOCondition, gpointer data)
{
  App &app = *static_cast<App *> (data);
  g_autofree char *line = nullptr;
  gsize len = 0;
  GIOStatus st = g_io_channel_read_line (ch, &line, &len, nullptr, nullptr);
  if (st == G_IO_STATUS_EOF || st == G_IO_STATUS_ERROR) {
    g_main_loop_quit (app.loop);  // the test is gone
    return G_SOURCE_REMOVE;
  }
  if (line)
    command (app, g_strchomp (line));
  return G_SOURCE_CONTINUE;
}

gboolean
on_bus (GstBus *, GstMessage *msg, gpointer data)
{
  App &app = *static_cast<App *> (data);
  switch (GST_MESSAGE_TYPE (msg)) {
    case GST_MESSAGE_ERROR:
    case GST_MESSAGE_WARNING: {
      bool error = GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR;
      GError *err = nullptr;
      if (error)
        gst_message_parse_error (msg, &err, nullptr);
      else
        gst_message_parse_warning (msg, &err, nullptr);
      say (std::string (error ? "error " : "warning ") + GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)) +
          ": " + one_line (err->message));
      g_clear_error (&err);
      if (error) {
        app.exit_code = 1;
        g_main_loop_quit (app.loop);
      }
      break;
    }
    case GST_MESSAGE_EOS:
      say ("eos");
      g_main_loop_quit (app.loop);
      break;
    case GST_MESSAGE_LATENCY:
      // As gst-launch-1.0 does: rtcstreamsrc's playout delay moves the
      // pipeline's latency.
      gst_bin_recalculate_latency (GST_BIN (app.pipeline));
      break;
    case GST_MESSAGE_STATE_CHANGED:
      if (GST_MESSAGE_SRC (msg) == GST_OBJECT (app.pipeline)) {
        GstState now;
        gst_message_parse_state_changed (msg, nullptr, &now, nullptr);
        if (now == GST_STATE_PLAYING)
          say ("playing");
      }
      break;
    case GST_MESSAGE_ELEMENT:
      if (gst_message_has_name (msg, "rtcstream-registered"))
        say ("registered");
      break;
    default:
      break;
  }
  return G_SOURCE_CONTINUE;
}

// Streaming thread.
GstPadProbeReturn
count_buffer (GstPad *, GstPadProbeInfo *info, gpointer data)
{
  auto *c = static_cast<Counter *> (data);
  c->frames++;
  c->bytes += gst_buffer_get_size (GST_PAD_PROBE_INFO_BUFFER (info));
  return GST_PAD_PROBE_OK;
}

}  // namespace

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  App app;
  std::vector<std::string> names;
  guint every_ms = 0;
  int i = 1;
  for (; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--count" && i + 1 < argc)
      names.push_back (argv[++i]);
    else if (a == "--every" && i + 1 < argc)
      every_ms = (guint) atoi (argv[++i]);
    else
      break;
  }
  if (i >= argc) {
    fprintf (stderr, "usage: netsim-gst [--count NAME]... [--every MS] DESCRIPTION...\n");
    return 2;
  }
  // One argument is a whole description (as tests pass it); several are
  // gst-launch's words (as a shell splits them).
  GError *err = nullptr;
  app.pipeline = i == argc - 1 ? gst_parse_launch (argv[i], &err)
                               : gst_parse_launchv ((const gchar **) argv + i, &err);
  if (!app.pipeline || err) {
    say (std::string ("error parse: ") + (err ? err->message : "?"));
    return 1;
  }
  for (const std::string &name : names) {
    if (!start_counting (app, name)) {
      say ("error parse: no element " + name + " with a sink pad");
      return 1;
    }
  }
  app.loop = g_main_loop_new (nullptr, FALSE);
  GstBus *bus = gst_element_get_bus (app.pipeline);
  gst_bus_add_watch (bus, on_bus, &app);
  gst_object_unref (bus);
  GIOChannel *in = g_io_channel_unix_new (0);
  g_io_add_watch (in, (GIOCondition) (G_IO_IN | G_IO_HUP | G_IO_ERR), on_stdin, &app);
  g_unix_signal_add (SIGTERM, [] (gpointer loop) -> gboolean {
    g_main_loop_quit (static_cast<GMainLoop *> (loop));
    return G_SOURCE_REMOVE;
  }, app.loop);
  if (every_ms)
    g_timeout_add (every_ms, [] (gpointer data) -> gboolean {
      App &a = *static_cast<App *> (data);
      for (auto &[name, c] : a.counters)
        report_frames (a, name);
      return G_SOURCE_CONTINUE;
    }, &app);
  if (gst_element_set_state (app.pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE)
    say ("error the pipeline could not start");
  g_main_loop_run (app.loop);
  gst_element_set_state (app.pipeline, GST_STATE_NULL);
  gst_object_unref (app.pipeline);
  g_io_channel_unref (in);
  g_main_loop_unref (app.loop);
  return app.exit_code;
}
