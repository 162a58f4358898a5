// SPDX-License-Identifier: LGPL-2.1-or-later
/**
 * SECTION:element-rtcstreamroom
 *
 * One participant of a room (docs/protocol.md, Rooms; docs/elements.md,
 * rtcstreamroom): publishes what is linked to its `video_%u` and `audio_%u`
 * request pads to everyone else in the room, and exposes, for each other
 * participant, one sometimes-pad per stream it sends, `video_NAME_N` and
 * `audio_NAME_N` (NAME: that participant). A participant's pads go (after
 * EOS) when it leaves; participants come and go while the room goes on.
 *
 *     gst-launch-1.0 rtcstreamroom uri=rtcstream://127.0.0.1:8443/meet participant=alice name=r \
 *         videotestsrc is-live=true ! r. \
 *         r. ! queue ! videoconvert ! autovideosink
 *
 * It is a bin of the existing elements, not a new implementation: one
 * rtcstreamsink publishes the participant's stream ROOM:PARTICIPANT (its
 * websocket signaller joins the room and reports who is in it), and one
 * rtcstreamsrc per other participant watches that participant's stream.
 * Every pair of participants so has two peer connections, one each way (a
 * mesh): right for a handful of people; docs/scale-out.md says how rooms grow
 * past that.
 *
 * Threads: the signaller reports participants on its thread; the element
 * adds and removes the rtcstreamsrc of each on a Worker of its own (from
 * READY to NULL), so that adding, draining and stopping them never blocks the
 * signalling or a streaming thread. Pads are exposed on the rtcstreamsrc's
 * thread when it exposes its own.
 */
#include "rtcstreamroom.h"

#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>

#include "rtcstream/protocol.h"
#include "rtcstream/ref.h"
#include "rtcstream/signallers/ws-signaller.h"
#include "rtcstream/uri.h"
#include "rtcstream/worker.h"

GST_DEBUG_CATEGORY_STATIC (rtcstream_room_debug);
#define GST_CAT_DEFAULT rtcstream_room_debug

using rtcstream::Ref;
using rtcstream::StreamUri;
using rtcstream::Worker;
namespace proto = rtcstream::protocol;

namespace {

enum {
  PROP_0,
  PROP_URI,
  PROP_PARTICIPANT,
  PROP_AUTH_TOKEN,
  PROP_TLS_CA_FILE,
  PROP_PARTICIPANTS,
  PROP_PUBLISHER,
};

// A participant that left: its pads get EOS, and go this much later.
constexpr guint kLeaveDrainMs = 500;
// A participant whose stream failed (it left before sending media, say) is
// watched again after this, at most kMaxAttempts times, while it is in the room.
constexpr guint kRetryMs = 1000;
constexpr int kMaxAttempts = 3;
// How long a participant's rtcstreamsrc waits for its stream to be listed.
constexpr gint kProducerTimeoutMs = 10000;

// One other participant: the rtcstreamsrc watching it.
struct Remote {
  std::string participant;
  GstElement *src = nullptr;             // a child of the bin while here
  std::map<GstPad *, GstPad *> ghosts;   // the src's pad -> our pad (a ref of ours)
};

struct State {
  std::mutex lock;  // guards all below
  // Settings.
  std::string uri;
  std::string participant;
  std::string auth_token;
  std::string tls_ca_file;
  // From NULL to READY on.
  StreamUri parsed;                        // the uri: the server and the room
  Ref<RtcstreamWsSignaller> signaller;     // the publisher's
  std::unique_ptr<Worker> worker;
  gulong handlers[2] = { 0, 0 };
  // PAUSED and PLAYING: participants are watched.
  bool running = false;
  std::set<std::string> members;           // the others' streams, as the signaller says
  std::map<std::string, Remote> remotes;   // stream -> its rtcstreamsrc
  std::map<std::string, int> attempts;     // stream -> rtcstreamsrcs made for it
  std::set<GstElement *> retiring;         // rtcstreamsrcs stopping, still children
  guint counter = 0;
};

}  // namespace

struct _RtcstreamRoom {
  GstBin parent;
  GstElement *publisher;  // rtcstreamsink, a child for the bin's life
  State *state;
  std::mutex pads_lock;   // adding and removing our pads, one at a time
};

G_DEFINE_TYPE_WITH_CODE (RtcstreamRoom, rtcstream_room, GST_TYPE_BIN,
    GST_DEBUG_CATEGORY_INIT (rtcstream_room_debug, "rtcstreamroom", 0,
        "rtcstream room participant element"))
GST_ELEMENT_REGISTER_DEFINE (rtcstreamroom, "rtcstreamroom", GST_RANK_NONE, RTCSTREAM_TYPE_ROOM)

// The caps are rtcstreamsink's and rtcstreamsrc's, whose pads these are.
static GstStaticPadTemplate sink_video_template = GST_STATIC_PAD_TEMPLATE ("video_%u",
    GST_PAD_SINK, GST_PAD_REQUEST,
    GST_STATIC_CAPS ("video/x-raw; video/x-raw(ANY); video/x-vp8; video/x-vp9; "
        "video/x-h264, stream-format=(string){byte-stream, avc}, alignment=(string)au"));
static GstStaticPadTemplate sink_audio_template = GST_STATIC_PAD_TEMPLATE ("audio_%u",
    GST_PAD_SINK, GST_PAD_REQUEST, GST_STATIC_CAPS ("audio/x-raw; audio/x-opus"));
static GstStaticPadTemplate src_video_template = GST_STATIC_PAD_TEMPLATE ("video_%s",
    GST_PAD_SRC, GST_PAD_SOMETIMES,
    GST_STATIC_CAPS ("video/x-raw; video/x-vp8; video/x-vp9; video/x-h264"));
static GstStaticPadTemplate src_audio_template = GST_STATIC_PAD_TEMPLATE ("audio_%s",
    GST_PAD_SRC, GST_PAD_SOMETIMES, GST_STATIC_CAPS ("audio/x-raw; audio/x-opus"));

namespace {

void
post_participant_message (RtcstreamRoom *self, const char *what, const std::string &participant)
{
  gst_element_post_message (GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self),
      gst_structure_new (what, "participant", G_TYPE_STRING, participant.c_str (), nullptr)));
}

// Posts fn on the worker, if there is one.
void
post (RtcstreamRoom *self, std::function<void ()> fn, guint delay_ms = 0)
{
  std::lock_guard<std::mutex> lk (self->state->lock);
  if (!self->state->worker)
    return;
  if (delay_ms)
    self->state->worker->post_delayed (delay_ms, std::move (fn));
  else
    self->state->worker->post (std::move (fn));
}

// Our pads of participants: what goes to one that is not linked (gst-launch
// links the pads that come while it parses, an application may link some
// only) is dropped, as rtcstreamsrc drops what goes to its own unlinked
// pads, instead of stopping that participant's stream with not-linked.
GstFlowReturn
chain_unless_unlinked (GstPad *pad, GstObject *parent, GstBuffer *buffer)
{
  GstFlowReturn ret = gst_proxy_pad_chain_default (pad, parent, buffer);
  return ret == GST_FLOW_NOT_LINKED ? GST_FLOW_OK : ret;
}

GstFlowReturn
chain_list_unless_unlinked (GstPad *pad, GstObject *parent, GstBufferList *list)
{
  GstFlowReturn ret = gst_proxy_pad_chain_list_default (pad, parent, list);
  return ret == GST_FLOW_NOT_LINKED ? GST_FLOW_OK : ret;
}

// A pad of a participant's rtcstreamsrc (its thread): ours, named after the
// participant.
void
on_src_pad_added (GstElement *src, GstPad *pad, gpointer user)
{
  auto *self = RTCSTREAM_ROOM (user);
  std::lock_guard<std::mutex> pads (self->pads_lock);
  std::string participant;
  {
    std::lock_guard<std::mutex> lk (self->state->lock);
    for (const auto &[stream, r] : self->state->remotes)
      if (r.src == src)
        participant = r.participant;
  }
  if (participant.empty ())
    return;  // going already
  const std::string inner = GST_PAD_NAME (pad);  // video_0, audio_1...
  const bool video = g_str_has_prefix (inner.c_str (), "video");
  const std::string number = inner.substr (inner.rfind ('_') + 1);
  const std::string name = std::string (video ? "video_" : "audio_") + participant + "_" + number;
  GstPadTemplate *templ = gst_element_class_get_pad_template (GST_ELEMENT_GET_CLASS (self),
      video ? "video_%s" : "audio_%s");
  GstPad *ghost = gst_ghost_pad_new_from_template (name.c_str (), pad, templ);
  GstPad *internal = GST_PAD (gst_proxy_pad_get_internal (GST_PROXY_PAD (ghost)));
  gst_pad_set_chain_function (internal, chain_unless_unlinked);
  gst_pad_set_chain_list_function (internal, chain_list_unless_unlinked);
  gst_object_unref (internal);
  {
    std::lock_guard<std::mutex> lk (self->state->lock);
    for (auto &[stream, r] : self->state->remotes)
      if (r.src == src)
        r.ghosts[pad] = GST_PAD (gst_object_ref (ghost));
  }
  GST_INFO_OBJECT (self, "participant %s: pad %s", participant.c_str (), name.c_str ());
  gst_pad_set_active (ghost, TRUE);
  gst_element_add_pad (GST_ELEMENT (self), ghost);
}

void add_remote (RtcstreamRoom *self, const std::string &stream);

// Worker: a participant's rtcstreamsrc stops and goes, with our pads for it.
// If the participant is (back) in the room, it is watched again.
void
remove_remote (RtcstreamRoom *self, const std::string &stream, bool again)
{
  Remote r;
  {
    std::lock_guard<std::mutex> lk (self->state->lock);
    auto it = self->state->remotes.find (stream);
    if (it == self->state->remotes.end ())
      return;
    r = std::move (it->second);
    self->state->remotes.erase (it);
    self->state->retiring.insert (r.src);
  }
  gst_element_set_state (r.src, GST_STATE_NULL);
  {
    std::lock_guard<std::mutex> pads (self->pads_lock);
    for (auto &[inner, ghost] : r.ghosts) {
      gst_element_remove_pad (GST_ELEMENT (self), ghost);
      gst_object_unref (ghost);
    }
  }
  gst_bin_remove (GST_BIN (self), r.src);
  {
    std::lock_guard<std::mutex> lk (self->state->lock);
    self->state->retiring.erase (r.src);
  }
  GST_INFO_OBJECT (self, "participant %s: gone", r.participant.c_str ());
  post_participant_message (self, "rtcstream-participant-left", r.participant);
  bool member;
  {
    std::lock_guard<std::mutex> lk (self->state->lock);
    member = self->state->members.count (stream) && self->state->running;
  }
  if (member && again)
    post (self, [self, stream] { add_remote (self, stream); }, kRetryMs);
}

// Worker: watches a participant of the room, with an rtcstreamsrc.
void
add_remote (RtcstreamRoom *self, const std::string &stream)
{
  State *st = self->state;
  std::string uri, token, ca, participant;
  guint n;
  {
    std::lock_guard<std::mutex> lk (st->lock);
    const std::string prefix = st->parsed.stream + ":";
    if (!st->running || !st->members.count (stream) || st->remotes.count (stream) ||
        stream.compare (0, prefix.size (), prefix) != 0)
      return;
    if (++st->attempts[stream] > kMaxAttempts) {
      GST_ELEMENT_WARNING (self, RESOURCE, READ, ("Gave up receiving participant %s of room "
          "'%s' after %d attempts", stream.substr (prefix.size ()).c_str (),
          st->parsed.stream.c_str (), kMaxAttempts), (nullptr));
      return;
    }
    participant = stream.substr (prefix.size ());
    const StreamUri &u = st->parsed;
    const std::string host = u.host.find (':') != std::string::npos ? "[" + u.host + "]" : u.host;
    g_autofree gchar *path = g_uri_escape_string (stream.c_str (), ":", FALSE);
    uri = std::string (u.tls ? "rtcstreams://" : "rtcstream://") + host + ":" +
        std::to_string (u.port) + "/" + path;
    token = st->auth_token;
    ca = st->tls_ca_file;
    n = st->counter++;
  }
  const std::string name = "participant-" + participant + "-" + std::to_string (n);
  GstElement *src = gst_element_factory_make ("rtcstreamsrc", name.c_str ());
  if (!src) {
    GST_ELEMENT_ERROR (self, CORE, MISSING_PLUGIN, ("rtcstreamsrc is missing: the rtcstream "
        "plugin is not fully installed"), (nullptr));
    return;
  }
  g_object_set (src, "uri", uri.c_str (), "producer-timeout", kProducerTimeoutMs, nullptr);
  if (!token.empty ())
    g_object_set (src, "auth-token", token.c_str (), nullptr);
  if (!ca.empty ())
    g_object_set (src, "tls-ca-file", ca.c_str (), nullptr);
  g_signal_connect (src, "pad-added", G_CALLBACK (on_src_pad_added), self);
  {
    std::lock_guard<std::mutex> lk (st->lock);
    st->remotes[stream] = Remote { participant, src, {} };
  }
  GST_INFO_OBJECT (self, "participant %s: watching %s", participant.c_str (), uri.c_str ());
  gst_bin_add (GST_BIN (self), src);
  post_participant_message (self, "rtcstream-participant-joined", participant);
  if (!gst_element_sync_state_with_parent (src))
    remove_remote (self, stream, true);
}

// The signaller's thread.
void
on_participant_joined (RtcstreamWsSignaller *, const gchar *, const gchar *stream, gpointer user)
{
  auto *self = RTCSTREAM_ROOM (user);
  std::string s (stream);
  {
    std::lock_guard<std::mutex> lk (self->state->lock);
    self->state->members.insert (s);
    self->state->attempts.erase (s);
  }
  g_object_notify (G_OBJECT (self), "participants");
  post (self, [self, s] { add_remote (self, s); });
}

void
on_participant_left (RtcstreamWsSignaller *, const gchar *, const gchar *stream, gpointer user)
{
  auto *self = RTCSTREAM_ROOM (user);
  std::string s (stream);
  {
    std::lock_guard<std::mutex> lk (self->state->lock);
    self->state->members.erase (s);
  }
  g_object_notify (G_OBJECT (self), "participants");
  // Its pads drain first (EOS: a recording of it ends properly), then go.
  post (self, [self, s] {
    GstElement *src = nullptr;
    {
      std::lock_guard<std::mutex> lk (self->state->lock);
      auto it = self->state->remotes.find (s);
      if (it != self->state->remotes.end ())
        src = GST_ELEMENT (gst_object_ref (it->second.src));
    }
    if (!src)
      return;
    gst_element_send_event (src, gst_event_new_eos ());
    gst_object_unref (src);
    post (self, [self, s] { remove_remote (self, s, true); }, kLeaveDrainMs);
  });
}

// NULL to READY: checks the settings; makes the publisher's signaller.
bool
prepare (RtcstreamRoom *self)
{
  State *st = self->state;
  std::string uri, participant, token, ca;
  {
    std::lock_guard<std::mutex> lk (st->lock);
    if (st->participant.empty ()) {
      std::random_device rd;
      char buf[16];
      g_snprintf (buf, sizeof buf, "p%06x", rd () & 0xffffff);
      st->participant = buf;
    }
    uri = st->uri;
    participant = st->participant;
    token = st->auth_token;
    ca = st->tls_ca_file;
  }
  StreamUri parsed;
  std::string error;
  if (uri.empty ())
    error = "No uri set: set uri=rtcstream://HOST:PORT/ROOM (e.g. rtcstream://127.0.0.1:8443/meet)";
  else if (!g_str_has_prefix (uri.c_str (), "rtcstream://") &&
      !g_str_has_prefix (uri.c_str (), "rtcstreams://"))
    error = "rtcstreamroom needs an rtcstream://HOST:PORT/ROOM (or rtcstreams://) URI, not '" +
        uri + "': rooms are an extension of rtcstream-signalling";
  else if (!rtcstream::parse_stream_uri (uri, parsed, error))
    ;
  else if (std::string p = proto::room_name_problem (parsed.stream, "room"); !p.empty ())
    error = "The room in uri '" + uri + "' is not valid: " + p;
  else if (std::string p = proto::room_name_problem (participant, "participant"); !p.empty ())
    error = "participant '" + participant + "' is not valid: " + p;
  if (!error.empty ()) {
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("%s", error.c_str ()), (nullptr));
    return false;
  }
  auto sig = Ref<RtcstreamWsSignaller>::adopt (rtcstream_ws_signaller_new (parsed.ws_url.c_str ()));
  const std::string stream = proto::room_stream_name (parsed.stream, participant);
  g_object_set (sig.get (), "stream-name", stream.c_str (), "room", parsed.stream.c_str (),
      nullptr);
  gulong joined = g_signal_connect (sig.get (), "participant-joined",
      G_CALLBACK (on_participant_joined), self);
  gulong left = g_signal_connect (sig.get (), "participant-left",
      G_CALLBACK (on_participant_left), self);
  g_object_set (self->publisher, "signaller", sig.get (), nullptr);
  if (!token.empty ())
    g_object_set (self->publisher, "auth-token", token.c_str (), nullptr);
  if (!ca.empty ())
    g_object_set (self->publisher, "tls-ca-file", ca.c_str (), nullptr);
  GST_INFO_OBJECT (self, "room '%s' on %s as %s", parsed.stream.c_str (), parsed.ws_url.c_str (),
      participant.c_str ());
  std::lock_guard<std::mutex> lk (st->lock);
  st->parsed = parsed;
  st->signaller = sig;
  st->handlers[0] = joined;
  st->handlers[1] = left;
  st->worker = std::make_unique<Worker> ("rtcstream-room");
  return true;
}

// READY to NULL: the worker and the signaller go.
void
unprepare (RtcstreamRoom *self)
{
  State *st = self->state;
  std::unique_ptr<Worker> worker;
  Ref<RtcstreamWsSignaller> sig;
  {
    std::lock_guard<std::mutex> lk (st->lock);
    worker = std::move (st->worker);
    sig = std::move (st->signaller);
  }
  worker.reset ();  // joins: nothing of ours runs after this
  if (sig) {
    for (gulong &h : st->handlers)
      if (h)
        g_signal_handler_disconnect (sig.get (), h);
    st->handlers[0] = st->handlers[1] = 0;
    g_object_set (self->publisher, "signaller", nullptr, nullptr);
  }
}

// PAUSED to READY, once the children stopped: every participant's src goes.
void
remove_all_remotes (RtcstreamRoom *self)
{
  std::vector<std::string> streams;
  {
    std::lock_guard<std::mutex> lk (self->state->lock);
    for (const auto &[stream, r] : self->state->remotes)
      streams.push_back (stream);
    self->state->members.clear ();
    self->state->attempts.clear ();
  }
  for (const std::string &s : streams)
    remove_remote (self, s, false);
}

// The GstObject under the bin that `object` is or is inside of.
GstObject *
child_of (RtcstreamRoom *self, GstObject *object)
{
  GstObject *o = object;
  while (o && GST_OBJECT_PARENT (o) != GST_OBJECT (self))
    o = GST_OBJECT_PARENT (o);
  return o;
}

}  // namespace

static GstPad *
rtcstream_room_request_new_pad (GstElement *element, GstPadTemplate *templ, const gchar *name,
    const GstCaps *)
{
  auto *self = RTCSTREAM_ROOM (element);
  if (GST_PAD_TEMPLATE_DIRECTION (templ) != GST_PAD_SINK)
    return nullptr;
  GstPad *inner = gst_element_request_pad_simple (self->publisher,
      name ? name : GST_PAD_TEMPLATE_NAME_TEMPLATE (templ));
  if (!inner)
    return nullptr;
  GstPad *ghost = gst_ghost_pad_new_from_template (GST_PAD_NAME (inner), inner, templ);
  gst_object_unref (inner);
  std::lock_guard<std::mutex> pads (self->pads_lock);
  gst_element_add_pad (element, ghost);
  return ghost;
}

static void
rtcstream_room_release_pad (GstElement *element, GstPad *pad)
{
  auto *self = RTCSTREAM_ROOM (element);
  GstPad *inner = gst_ghost_pad_get_target (GST_GHOST_PAD (pad));
  {
    std::lock_guard<std::mutex> pads (self->pads_lock);
    gst_element_remove_pad (element, pad);
  }
  if (inner) {
    gst_element_release_request_pad (self->publisher, inner);
    gst_object_unref (inner);
  }
}

static GstStateChangeReturn
rtcstream_room_change_state (GstElement *element, GstStateChange transition)
{
  auto *self = RTCSTREAM_ROOM (element);
  State *st = self->state;
  switch (transition) {
    case GST_STATE_CHANGE_NULL_TO_READY:
      if (!prepare (self))
        return GST_STATE_CHANGE_FAILURE;
      break;
    case GST_STATE_CHANGE_READY_TO_PAUSED: {
      std::lock_guard<std::mutex> lk (st->lock);
      st->running = true;
      break;
    }
    case GST_STATE_CHANGE_PAUSED_TO_READY: {
      Worker *worker;
      {
        std::lock_guard<std::mutex> lk (st->lock);
        st->running = false;
        worker = st->worker.get ();
      }
      // What the worker is doing ends before the children stop.
      if (worker)
        worker->run_sync ([] {});
      break;
    }
    default:
      break;
  }
  GstStateChangeReturn ret =
      GST_ELEMENT_CLASS (rtcstream_room_parent_class)->change_state (element, transition);
  if (ret == GST_STATE_CHANGE_FAILURE) {
    if (transition == GST_STATE_CHANGE_READY_TO_PAUSED) {
      std::lock_guard<std::mutex> lk (st->lock);
      st->running = false;
    } else if (transition == GST_STATE_CHANGE_NULL_TO_READY) {
      unprepare (self);
    }
    return ret;
  }
  switch (transition) {
    case GST_STATE_CHANGE_READY_TO_PAUSED:
    case GST_STATE_CHANGE_PLAYING_TO_PAUSED:
      ret = GST_STATE_CHANGE_NO_PREROLL;  // live, as its rtcstreamsrcs
      break;
    case GST_STATE_CHANGE_PAUSED_TO_READY:
      remove_all_remotes (self);
      break;
    case GST_STATE_CHANGE_READY_TO_NULL:
      unprepare (self);
      break;
    default:
      break;
  }
  return ret;
}

// A participant's stream failing (it left before sending media, its
// connection failed) does not stop the room: a warning, and it is watched
// again while it is in the room. The publisher's errors stay errors.
static void
rtcstream_room_handle_message (GstBin *bin, GstMessage *msg)
{
  auto *self = RTCSTREAM_ROOM (bin);
  if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
    GstObject *child = child_of (self, GST_MESSAGE_SRC (msg));
    std::string stream;
    bool retiring;
    {
      std::lock_guard<std::mutex> lk (self->state->lock);
      for (const auto &[s, r] : self->state->remotes)
        if (child && GST_OBJECT (r.src) == child)
          stream = s;
      retiring = child && self->state->retiring.count (GST_ELEMENT (child));
    }
    if (!stream.empty () || retiring) {
      GError *err = nullptr;
      gchar *debug = nullptr;
      gst_message_parse_error (msg, &err, &debug);
      GST_INFO_OBJECT (self, "participant stream %s failed: %s",
          stream.empty () ? GST_OBJECT_NAME (child) : stream.c_str (), err->message);
      GstMessage *warning = gst_message_new_warning (GST_MESSAGE_SRC (msg), err, debug);
      g_clear_error (&err);
      g_free (debug);
      gst_message_unref (msg);
      msg = warning;
      if (!stream.empty ())
        post (self, [self, stream] { remove_remote (self, stream, true); });
    }
  }
  GST_BIN_CLASS (rtcstream_room_parent_class)->handle_message (bin, msg);
}

static void
rtcstream_room_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  auto *self = RTCSTREAM_ROOM (object);
  std::lock_guard<std::mutex> lk (self->state->lock);
  const char *s = G_VALUE_HOLDS_STRING (value) ? g_value_get_string (value) : nullptr;
  switch (prop_id) {
    case PROP_URI:
      self->state->uri = s ? s : "";
      break;
    case PROP_PARTICIPANT:
      self->state->participant = s ? s : "";
      break;
    case PROP_AUTH_TOKEN:
      self->state->auth_token = s ? s : "";
      break;
    case PROP_TLS_CA_FILE:
      self->state->tls_ca_file = s ? s : "";
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
}

static void
rtcstream_room_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  auto *self = RTCSTREAM_ROOM (object);
  std::lock_guard<std::mutex> lk (self->state->lock);
  auto or_null = [] (const std::string &s) { return s.empty () ? nullptr : s.c_str (); };
  switch (prop_id) {
    case PROP_URI:
      g_value_set_string (value, or_null (self->state->uri));
      break;
    case PROP_PARTICIPANT:
      g_value_set_string (value, or_null (self->state->participant));
      break;
    case PROP_AUTH_TOKEN:
      g_value_set_string (value, or_null (self->state->auth_token));
      break;
    case PROP_TLS_CA_FILE:
      g_value_set_string (value, or_null (self->state->tls_ca_file));
      break;
    case PROP_PARTICIPANTS: {
      GStrvBuilder *b = g_strv_builder_new ();
      const std::string prefix = self->state->parsed.stream + ":";
      for (const std::string &m : self->state->members)
        g_strv_builder_add (b, m.substr (std::min (prefix.size (), m.size ())).c_str ());
      g_value_take_boxed (value, g_strv_builder_end (b));
      g_strv_builder_unref (b);
      break;
    }
    case PROP_PUBLISHER:
      g_value_set_object (value, self->publisher);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
}

static void
rtcstream_room_init (RtcstreamRoom *self)
{
  new (&self->pads_lock) std::mutex ();
  self->state = new State ();
  self->publisher = gst_element_factory_make ("rtcstreamsink", "publisher");
  gst_bin_add (GST_BIN (self), self->publisher);
}

static void
rtcstream_room_finalize (GObject *object)
{
  auto *self = RTCSTREAM_ROOM (object);
  delete self->state;
  self->pads_lock.~mutex ();
  G_OBJECT_CLASS (rtcstream_room_parent_class)->finalize (object);
}

static void
rtcstream_room_class_init (RtcstreamRoomClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBinClass *bin_class = GST_BIN_CLASS (klass);
  gobject_class->set_property = rtcstream_room_set_property;
  gobject_class->get_property = rtcstream_room_get_property;
  gobject_class->finalize = rtcstream_room_finalize;
  element_class->change_state = rtcstream_room_change_state;
  element_class->request_new_pad = rtcstream_room_request_new_pad;
  element_class->release_pad = rtcstream_room_release_pad;
  bin_class->handle_message = rtcstream_room_handle_message;

  // Read when the element goes from NULL to READY.
  const auto rw = (GParamFlags) (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_property (gobject_class, PROP_URI,
      g_param_spec_string ("uri", "URI",
          "The room: rtcstream://HOST:PORT/ROOM (rtcstreams:// with TLS) on rtcstream-signalling. "
          "A room name is 1 to 64 ASCII letters, digits, '-', '_' or '.'",
          nullptr, rw));
  g_object_class_install_property (gobject_class, PROP_PARTICIPANT,
      g_param_spec_string ("participant", "Participant",
          "This participant's name in the room, unique in it (as a room name); it publishes "
          "the stream ROOM:PARTICIPANT, and the others' pads are named after them. Null: "
          "a random name (p and 6 hex digits), chosen at start",
          nullptr, rw));
  g_object_class_install_property (gobject_class, PROP_AUTH_TOKEN,
      g_param_spec_string ("auth-token", "Auth token",
          "Bearer token for a server that needs one (docs/auth.md): publish:ROOM:PARTICIPANT "
          "to take part, watch:ROOM:* (or a narrower pattern) for the participants to receive",
          nullptr, rw));
  g_object_class_install_property (gobject_class, PROP_TLS_CA_FILE,
      g_param_spec_string ("tls-ca-file", "TLS CA file",
          "PEM file of the certificate (or its CA) to trust for an rtcstreams:// server",
          nullptr, rw));
  g_object_class_install_property (gobject_class, PROP_PARTICIPANTS,
      g_param_spec_boxed ("participants", "Participants",
          "The other participants in the room now (notified when one comes or goes)",
          G_TYPE_STRV, (GParamFlags) (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)));
  g_object_class_install_property (gobject_class, PROP_PUBLISHER,
      g_param_spec_object ("publisher", "Publisher",
          "The rtcstreamsink publishing this participant's media, for its other settings "
          "(video-codecs, video-bitrate...) and its stats",
          GST_TYPE_ELEMENT, (GParamFlags) (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS)));

  gst_element_class_add_static_pad_template (element_class, &sink_video_template);
  gst_element_class_add_static_pad_template (element_class, &sink_audio_template);
  gst_element_class_add_static_pad_template (element_class, &src_video_template);
  gst_element_class_add_static_pad_template (element_class, &src_audio_template);
  gst_element_class_set_static_metadata (element_class, "rtcstream room participant",
      "Source/Sink/Network/WebRTC",
      "Takes part in a room: publishes its input to the other participants and exposes "
      "pads with each other participant's media while it is in the room",
      "rtcstream developers");
}
