// SPDX-License-Identifier: LGPL-2.1-or-later
//
// room.cpp: one participant of a room, with rtcstreamroom.
//
// Publishes a test picture (videotestsrc with the participant's name drawn on
// it, and with --audio a tone) and receives every other participant: each
// pad rtcstreamroom adds for a participant gets a branch of its own, which
// goes when the pad goes (the participant left). That is what an application
// does with the element's sometimes-pads; gst-launch-1.0 can only link the
// pads that come while it parses (docs/elements.md, rtcstreamroom).
//
// Each line it prints is one JSON object, for a program (our tests, the
// benchmark) as well as a person:
//   {"event":"pad-added","pad":"video_bob_0"}
//   {"event":"buffers","pad":"video_bob_0","count":152}     (each second, per pad)
//   {"event":"pad-removed","pad":"video_bob_0"}
//   {"event":"participants","names":["bob","carol"]}
//
// Run, with rtcstream-signalling running, in two terminals or more:
//   GST_PLUGIN_PATH=build/plugins build/examples/rtcstream-room rtcstream://127.0.0.1:8443/meet alice
//   GST_PLUGIN_PATH=build/plugins build/examples/rtcstream-room rtcstream://127.0.0.1:8443/meet bob
// and open http://127.0.0.1:8443/room.html?room=meet in a browser to join too.
// Options: --display shows each participant in a window (autovideosink)
// instead of counting its frames; --audio publishes a tone and receives
// audio; --size WxH (default 320x240) and --fps N (default 15) of the picture.
#include <gst/gst.h>
#include <glib-unix.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace {

struct App {
  GstElement *pipeline = nullptr;
  GMainLoop *loop = nullptr;
  bool display = false;
  std::mutex lock;
  // Our pad -> its branch's first element and the frames it got.
  struct Branch {
    GstElement *queue = nullptr;
    GstElement *sink = nullptr;
    std::shared_ptr<std::atomic<guint64>> count;
  };
  std::map<std::string, Branch> branches;
  int status = 0;
};

void
emit_line (const std::string &json)
{
  // Called from several threads: one write per line.
  std::fputs ((json + "\n").c_str (), stdout);
  std::fflush (stdout);
}

// Participant and pad names are letters, digits, '-', '_' and '.' only.
std::string
event (const char *what, const std::string &pad)
{
  return std::string ("{\"event\":\"") + what + "\",\"pad\":\"" + pad + "\"}";
}

GstPadProbeReturn
count_buffer (GstPad *, GstPadProbeInfo *, gpointer user)
{
  (*static_cast<std::atomic<guint64> *> (user))++;
  return GST_PAD_PROBE_OK;
}

// A pad for another participant: queue ! (fakesink | convert ! autosink).
void
on_pad_added (GstElement *room, GstPad *pad, gpointer user)
{
  auto *app = static_cast<App *> (user);
  if (GST_PAD_DIRECTION (pad) != GST_PAD_SRC)
    return;
  const std::string name = GST_PAD_NAME (pad);
  const bool video = g_str_has_prefix (name.c_str (), "video");
  App::Branch b;
  b.queue = gst_element_factory_make ("queue", nullptr);
  GstElement *convert = nullptr;
  if (app->display) {
    convert = gst_element_factory_make (video ? "videoconvert" : "audioconvert", nullptr);
    b.sink = gst_element_factory_make (video ? "autovideosink" : "autoaudiosink", nullptr);
  } else {
    b.sink = gst_element_factory_make ("fakesink", nullptr);
    g_object_set (b.sink, "sync", FALSE, nullptr);
  }
  // A sink added to a playing pipeline must not preroll (async): the
  // pipeline would go back to PAUSED until it has, and every other branch
  // would wait for this participant's first frame.
  if (g_object_class_find_property (G_OBJECT_GET_CLASS (b.sink), "async"))
    g_object_set (b.sink, "async", FALSE, nullptr);
  else
    g_object_set (b.sink, "async-handling", TRUE, nullptr);
  b.count = std::make_shared<std::atomic<guint64>> (0);
  GstPad *sinkpad = gst_element_get_static_pad (b.queue, "sink");
  gst_pad_add_probe (sinkpad, GST_PAD_PROBE_TYPE_BUFFER, count_buffer, b.count.get (), nullptr);
  gst_bin_add_many (GST_BIN (app->pipeline), b.queue, b.sink, nullptr);
  if (convert) {
    gst_bin_add (GST_BIN (app->pipeline), convert);
    gst_element_link_many (b.queue, convert, b.sink, nullptr);
    gst_element_sync_state_with_parent (convert);
  } else {
    gst_element_link (b.queue, b.sink);
  }
  gst_element_sync_state_with_parent (b.sink);
  gst_element_sync_state_with_parent (b.queue);
  if (gst_pad_link (pad, sinkpad) != GST_PAD_LINK_OK)
    g_printerr ("could not link %s\n", name.c_str ());
  gst_object_unref (sinkpad);
  {
    std::lock_guard<std::mutex> lk (app->lock);
    app->branches[name] = b;
  }
  (void) room;
  emit_line (event ("pad-added", name));
}

// The participant left: its branch goes too.
void
on_pad_removed (GstElement *, GstPad *pad, gpointer user)
{
  auto *app = static_cast<App *> (user);
  const std::string name = GST_PAD_NAME (pad);
  App::Branch b;
  {
    std::lock_guard<std::mutex> lk (app->lock);
    auto it = app->branches.find (name);
    if (it == app->branches.end ())
      return;
    b = it->second;
    app->branches.erase (it);
  }
  GstElement *e = b.queue;
  std::vector<GstElement *> chain;
  while (e) {
    chain.push_back (e);
    GstPad *src = gst_element_get_static_pad (e, "src");
    GstPad *peer = src ? gst_pad_get_peer (src) : nullptr;
    e = peer ? gst_pad_get_parent_element (peer) : nullptr;
    if (e)
      gst_object_unref (e);  // the pipeline holds it
    if (peer)
      gst_object_unref (peer);
    if (src)
      gst_object_unref (src);
  }
  for (GstElement *el : chain) {
    gst_element_set_state (el, GST_STATE_NULL);
    gst_bin_remove (GST_BIN (app->pipeline), el);
  }
  emit_line (event ("pad-removed", name));
}

void
on_participants (GObject *room, GParamSpec *, gpointer)
{
  gchar **names = nullptr;
  g_object_get (room, "participants", &names, nullptr);
  std::string line = "{\"event\":\"participants\",\"names\":[";
  for (gchar **n = names; n && *n; n++)
    line += std::string (n == names ? "" : ",") + "\"" + *n + "\"";
  g_strfreev (names);
  emit_line (line + "]}");
}

gboolean
report_counts (gpointer user)
{
  auto *app = static_cast<App *> (user);
  std::lock_guard<std::mutex> lk (app->lock);
  for (const auto &[pad, b] : app->branches)
    emit_line ("{\"event\":\"buffers\",\"pad\":\"" + pad + "\",\"count\":" +
        std::to_string (b.count->load ()) + "}");
  return G_SOURCE_CONTINUE;
}

gboolean
on_bus (GstBus *, GstMessage *msg, gpointer user)
{
  auto *app = static_cast<App *> (user);
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    g_autoptr (GError) err = nullptr;
    g_autofree gchar *debug = nullptr;
    gst_message_parse_error (msg, &err, &debug);
    g_printerr ("ERROR from %s: %s\n", GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)), err->message);
    app->status = 1;
    g_main_loop_quit (app->loop);
  } else if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_WARNING) {
    g_autoptr (GError) err = nullptr;
    gst_message_parse_warning (msg, &err, nullptr);
    g_printerr ("WARNING from %s: %s\n", GST_OBJECT_NAME (GST_MESSAGE_SRC (msg)), err->message);
  }
  return G_SOURCE_CONTINUE;
}

gboolean
on_signal (gpointer user)
{
  g_main_loop_quit (static_cast<App *> (user)->loop);
  return G_SOURCE_REMOVE;
}

}  // namespace

int
main (int argc, char **argv)
{
  gst_init (&argc, &argv);
  App app;
  bool audio = false;
  std::string size = "320x240";
  int fps = 15;
  std::vector<std::string> args;
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (a == "--display")
      app.display = true;
    else if (a == "--audio")
      audio = true;
    else if (a == "--size" && i + 1 < argc)
      size = argv[++i];
    else if (a == "--fps" && i + 1 < argc)
      fps = std::atoi (argv[++i]);
    else
      args.push_back (a);
  }
  unsigned w = 0, h = 0;
  if (args.size () != 2 || std::sscanf (size.c_str (), "%ux%u", &w, &h) != 2 || fps <= 0) {
    g_printerr ("usage: %s [--display] [--audio] [--size WxH] [--fps N] "
        "rtcstream://HOST:PORT/ROOM PARTICIPANT\n", argv[0]);
    return 2;
  }
  const std::string desc = "rtcstreamroom name=room "
      "videotestsrc is-live=true pattern=ball ! video/x-raw,width=" + std::to_string (w) +
      ",height=" + std::to_string (h) + ",framerate=" + std::to_string (fps) + "/1 ! "
      "textoverlay font-desc=\"Sans 24\" text=\"" + args[1] + "\" ! room.video_0" +
      (audio ? " audiotestsrc is-live=true wave=ticks ! room.audio_0" : "");
  g_autoptr (GError) err = nullptr;
  app.pipeline = gst_parse_launch (desc.c_str (), &err);
  if (!app.pipeline) {
    g_printerr ("could not make the pipeline: %s\n", err->message);
    return 1;
  }
  GstElement *room = gst_bin_get_by_name (GST_BIN (app.pipeline), "room");
  g_object_set (room, "uri", args[0].c_str (), "participant", args[1].c_str (), nullptr);
  g_signal_connect (room, "pad-added", G_CALLBACK (on_pad_added), &app);
  g_signal_connect (room, "pad-removed", G_CALLBACK (on_pad_removed), &app);
  g_signal_connect (room, "notify::participants", G_CALLBACK (on_participants), &app);
  gst_object_unref (room);

  app.loop = g_main_loop_new (nullptr, FALSE);
  GstBus *bus = gst_element_get_bus (app.pipeline);
  gst_bus_add_watch (bus, on_bus, &app);
  gst_object_unref (bus);
  g_unix_signal_add (SIGINT, on_signal, &app);
  g_unix_signal_add (SIGTERM, on_signal, &app);
  g_timeout_add_seconds (1, report_counts, &app);
  if (gst_element_set_state (app.pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
    // The error is on the bus.
    app.status = 1;
  } else {
    g_main_loop_run (app.loop);
  }
  gst_element_set_state (app.pipeline, GST_STATE_NULL);
  while (GstMessage *m = gst_bus_pop_filtered (GST_ELEMENT_BUS (app.pipeline), GST_MESSAGE_ERROR)) {
    on_bus (nullptr, m, &app);
    gst_message_unref (m);
  }
  gst_object_unref (app.pipeline);
  g_main_loop_unref (app.loop);
  return app.status;
}
