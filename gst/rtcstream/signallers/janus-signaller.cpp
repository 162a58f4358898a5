// SPDX-License-Identifier: LGPL-2.1-or-later
//
// RtcstreamJanusSignaller: the GObject and its properties, the run (start:
// create a Janus session and attach to the VideoRoom; stop: destroy it), and
// the element's calls. The REST API is in janus-rest.cpp, the VideoRoom's
// logic in janus-room.cpp; janus-signaller-private.h has what they share.
//
// Threads: everything below runs on the worker thread unless marked.
#include "janus-signaller-private.h"

#include <mutex>
#include <string>

#include "janus-api.h"
#include "rtcstream/signallers/soup-session.h"

GST_DEBUG_CATEGORY (rtcstream_janus_signaller_debug);
#define GST_CAT_DEFAULT rtcstream_janus_signaller_debug

using rtcstream::Ref;
using rtcstream::SoupSessionOptions;
using rtcstream::make_soup_session;
using namespace rtcstream::janus_signaller;
namespace api = rtcstream::janus;

namespace {

enum {
  PROP_0,
  PROP_URL,
  PROP_ROOM,
  PROP_DISPLAY,
  PROP_PIN,
  PROP_API_SECRET,
  PROP_TOKEN,
};

}  // namespace

G_DEFINE_TYPE_WITH_CODE (RtcstreamJanusSignaller, rtcstream_janus_signaller,
    RTCSTREAM_TYPE_BASE_SIGNALLER,
    GST_DEBUG_CATEGORY_INIT (rtcstream_janus_signaller_debug, "rtcstream-janus", 0,
        "rtcstream Janus VideoRoom signaller"))

namespace rtcstream::janus_signaller {

std::string
where (Self *self)
{
  return "room " + self->state->cfg.room + " on " + self->state->cfg.url;
}

void
end_session (Self *self, const char *why)
{
  State *st = self->state;
  if (st->session_id.empty ())
    return;
  std::string sid;
  sid.swap (st->session_id);
  GST_INFO_OBJECT (self, "session %s ended: %s", sid.c_str (), why);
  if (st->phase != Phase::Stopped)
    rtcstream_signaller_emit_session_ended (as_iface (self), sid.c_str ());
}

void
fail (Self *self, RtcstreamSignallerError code, const std::string &msg)
{
  State *st = self->state;
  if (st->phase == Phase::Stopped)
    return;
  rtcstream::cancel_timer (&self->parent, st->list_timer);
  rtcstream::emit_error (&self->parent, code, msg);
  end_session (self, "signaller error");
}

}  // namespace rtcstream::janus_signaller

namespace {

// --- start / stop: the base's vfuncs and what they set going ----------------------

void
on_attached (Self *self, const json *reply, const std::string &error)
{
  if (!check_reply (self, "attach to janus.plugin.videoroom", reply, error))
    return;
  State *st = self->state;
  st->handle = api::reply_id (*reply);
  if (!st->handle) {
    fail (self, RTCSTREAM_SIGNALLER_ERROR_PROTOCOL, "Janus gave no handle id at " + st->cfg.url);
    return;
  }
  GST_INFO_OBJECT (self, "attached to the VideoRoom (handle %" G_GUINT64_FORMAT ")", st->handle);
  poll_events (self);
  schedule_keepalive (self);
  // Both roles first check the room: the producer that its name is free,
  // the consumer that its publisher is there.
  list_participants (self);
}

void
on_created (Self *self, const json *reply, const std::string &error)
{
  if (!check_reply (self, "create a session", reply, error))
    return;
  State *st = self->state;
  st->janus_session = api::reply_id (*reply);
  if (!st->janus_session) {
    fail (self, RTCSTREAM_SIGNALLER_ERROR_PROTOCOL,
        "Janus gave no session id at " + st->cfg.url + ": is this Janus' REST API?");
    return;
  }
  GST_INFO_OBJECT (self, "Janus session %" G_GUINT64_FORMAT, st->janus_session);
  http_request (self, path_url (self, true, false),
      json {{"janus", "attach"}, {"plugin", "janus.plugin.videoroom"}}, on_attached);
}

void
janus_start (RtcstreamBaseSignaller *base_self)
{
  auto *self = RTCSTREAM_JANUS_SIGNALLER (base_self);
  State *st = self->state;
  {
    std::lock_guard<std::mutex> lk (st->lock);
    st->cfg = st->settings;
  }
  st->cfg.stream_name = rtcstream::signaller_stream_name (base_self);
  st->cfg.role = rtcstream_base_signaller_get_role (base_self);
  const rtcstream::SignallerSettings shared = rtcstream::signaller_settings (base_self);
  st->cfg.tls_ca_file = shared.tls_ca_file;
  st->cfg.producer_timeout_ms = shared.producer_timeout_ms;
  st->cfg.reconnect_timeout_ms = shared.reconnect_timeout_ms;
  st->poll_lost_at_us = 0;
  st->poll_attempts = 0;
  st->phase = Phase::Connecting;
  st->generation++;
  st->janus_session = st->handle = st->feed = 0;
  st->session_id.clear ();
  st->jsep_acked = false;
  st->pending_candidates.clear ();
  st->wait_deadline = 0;
  if (st->cfg.room.empty ()) {
    fail (self, RTCSTREAM_SIGNALLER_ERROR_FAILED,
        "No Janus room set: add room=ROOM to the URI (or set the room property)");
    return;
  }
  if (st->cfg.name ().empty ()) {
    fail (self, RTCSTREAM_SIGNALLER_ERROR_FAILED,
        "No display name set: add display=NAME to the URI (or set the display property)");
    return;
  }
  SoupSessionOptions options;
  options.tls_ca_file = st->cfg.tls_ca_file;
  std::string error;
  st->http = Ref<SoupSession>::adopt (make_soup_session (options, error));
  if (!st->http) {
    fail (self, RTCSTREAM_SIGNALLER_ERROR_UNREACHABLE, error);
    return;
  }
  st->cancellable = Ref<GCancellable>::adopt (g_cancellable_new ());
  GST_INFO_OBJECT (self, "connecting to Janus at %s", st->cfg.url.c_str ());
  http_request (self, path_url (self, false, false), json {{"janus", "create"}}, on_created);
}

// Tells Janus we are gone: destroying the session detaches the handle, which
// leaves the room (and unpublishes). Synchronous with a short timeout, on a
// session of its own, so that nothing is left in flight after stop().
void
destroy_janus_session (Self *self)
{
  State *st = self->state;
  if (!st->janus_session)
    return;
  json body = {{"janus", "destroy"}, {"transaction", "rtcstream-destroy"}};
  add_auth (self, body);
  std::string url = path_url (self, true, false);
  std::string text = body.dump ();
  g_autoptr (SoupSession) once = soup_session_new_with_options ("timeout", 2, nullptr);
  if (st->http) {
    if (GTlsDatabase *db = soup_session_get_tls_database (st->http.get ()))
      soup_session_set_tls_database (once, db);
  }
  g_autoptr (SoupMessage) msg = soup_message_new ("POST", url.c_str ());
  if (!msg)
    return;
  g_autoptr (GBytes) bytes = g_bytes_new (text.data (), text.size ());
  soup_message_set_request_body_from_bytes (msg, "application/json", bytes);
  g_autoptr (GError) err = nullptr;
  g_autoptr (GBytes) reply = soup_session_send_and_read (once, msg, nullptr, &err);
  if (!reply)
    GST_INFO_OBJECT (self, "could not destroy Janus session: %s", err->message);
  st->janus_session = st->handle = 0;
}

void
janus_stop (RtcstreamBaseSignaller *base_self)
{
  auto *self = RTCSTREAM_JANUS_SIGNALLER (base_self);
  State *st = self->state;
  const bool was_running = st->phase != Phase::Idle && st->phase != Phase::Stopped;
  st->phase = Phase::Stopped;
  st->generation++;
  rtcstream::cancel_timer (base_self, st->keepalive_timer);
  rtcstream::cancel_timer (base_self, st->poll_timer);
  rtcstream::cancel_timer (base_self, st->list_timer);
  if (st->cancellable) {
    g_cancellable_cancel (st->cancellable.get ());
    st->cancellable.reset ();
  }
  if (was_running)
    destroy_janus_session (self);
  st->session_id.clear ();
  st->pending_candidates.clear ();
  st->http.reset ();
}

// --- the element's calls --------------------------------------------------------

// One signaller, one session: calls for another (ended) one are stale.
gboolean
janus_accepts_session (RtcstreamBaseSignaller *self, const gchar *session_id)
{
  return session_id == RTCSTREAM_JANUS_SIGNALLER (self)->state->session_id;
}

void
janus_send_sdp (RtcstreamBaseSignaller *base_self, const gchar *,
    const GstWebRTCSessionDescription *sdp)
{
  auto *self = RTCSTREAM_JANUS_SIGNALLER (base_self);
  const bool offer = sdp->type == GST_WEBRTC_SDP_TYPE_OFFER;
  const bool producer = self->state->cfg.role == RTCSTREAM_ROLE_PRODUCER;
  if (producer != offer) {
    GST_WARNING_OBJECT (self, "unexpected %s for Janus, dropped", offer ? "offer" : "answer");
    return;
  }
  g_autofree gchar *text = gst_sdp_message_as_text (sdp->sdp);
  json jsep = {{"type", offer ? "offer" : "answer"}, {"sdp", text}};
  json body = producer ? json {{"request", "publish"}} : json {{"request", "start"}};
  send_message (self, std::move (body), jsep, producer ? "publish" : "start the subscription",
      [] (Self *self, const json *, const std::string &) { flush_candidates (self); });
}

void
janus_add_ice (RtcstreamBaseSignaller *base_self, const gchar *, guint mline,
    const gchar *candidate)
{
  auto *self = RTCSTREAM_JANUS_SIGNALLER (base_self);
  json c = *candidate
      ? json {{"candidate", candidate}, {"sdpMLineIndex", mline}}
      : json {{"completed", true}};  // an empty candidate ends the gathering
  if (self->state->jsep_acked)
    send_trickle (self, c);
  else
    self->state->pending_candidates.push_back (c);
}

void
janus_end_session (RtcstreamBaseSignaller *base_self, const gchar *session_id)
{
  auto *self = RTCSTREAM_JANUS_SIGNALLER (base_self);
  State *st = self->state;
  st->session_id.clear ();
  rtcstream::cancel_timer (base_self, st->list_timer);
  const bool producer = st->cfg.role == RTCSTREAM_ROLE_PRODUCER;
  GST_INFO_OBJECT (self, "ending session %s: %s", session_id,
      producer ? "unpublishing" : "leaving");
  http_request (self, path_url (self, true, true),
      json {{"janus", "message"},
          {"body", {{"request", producer ? "unpublish" : "leave"}}}},
      [] (Self *, const json *, const std::string &) {});
}

}  // namespace

static void
rtcstream_janus_signaller_init (RtcstreamJanusSignaller *self)
{
  self->state = rtcstream::make_signaller_state<State> (&self->parent);
}

// The string properties and the settings they set.
static const struct {
  guint id;
  std::string Settings::*field;
} string_props[] = {
  {PROP_URL, &Settings::url},
  {PROP_ROOM, &Settings::room},
  {PROP_DISPLAY, &Settings::display},
  {PROP_PIN, &Settings::pin},
  {PROP_API_SECRET, &Settings::api_secret},
  {PROP_TOKEN, &Settings::token},
};

static void
rtcstream_janus_signaller_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  auto *self = RTCSTREAM_JANUS_SIGNALLER (object);
  Settings &s = self->state->settings;
  std::lock_guard<std::mutex> lk (self->state->lock);
  for (const auto &p : string_props) {
    if (p.id == prop_id) {
      const char *v = g_value_get_string (value);
      s.*p.field = v ? v : "";
      return;
    }
  }
  G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
rtcstream_janus_signaller_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec)
{
  auto *self = RTCSTREAM_JANUS_SIGNALLER (object);
  const Settings &s = self->state->settings;
  std::lock_guard<std::mutex> lk (self->state->lock);
  for (const auto &p : string_props) {
    if (p.id == prop_id) {
      const std::string &v = s.*p.field;
      g_value_set_string (value, v.empty () ? nullptr : v.c_str ());
      return;
    }
  }
  G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
rtcstream_janus_signaller_class_init (RtcstreamJanusSignallerClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  gobject_class->set_property = rtcstream_janus_signaller_set_property;
  gobject_class->get_property = rtcstream_janus_signaller_get_property;

  RtcstreamBaseSignallerClass *base_class = RTCSTREAM_BASE_SIGNALLER_CLASS (klass);
  base_class->worker_name = "rtcstream-janus";
  base_class->debug_category = rtcstream_janus_signaller_debug;
  base_class->start = janus_start;
  base_class->stop = janus_stop;
  base_class->accepts_session = janus_accepts_session;
  base_class->send_sdp = janus_send_sdp;
  base_class->add_ice = janus_add_ice;
  base_class->end_session = janus_end_session;

  const auto flags = (GParamFlags) (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_property (gobject_class, PROP_URL,
      g_param_spec_string ("url", "URL",
          "Base URL of Janus' REST API (http://HOST:8088/janus, or https://...)",
          "http://127.0.0.1:8088/janus", flags));
  g_object_class_install_property (gobject_class, PROP_ROOM,
      g_param_spec_string ("room", "Room",
          "The VideoRoom room to publish into or watch (a number unless the plugin "
          "uses string_ids)", nullptr, flags));
  g_object_class_install_property (gobject_class, PROP_DISPLAY,
      g_param_spec_string ("display", "Display name",
          "Producer: the display name to publish under (must be free in the room); "
          "consumer: the display name of the publisher to watch. Unset uses stream-name",
          nullptr, flags));
  g_object_class_install_property (gobject_class, PROP_PIN,
      g_param_spec_string ("pin", "Room PIN",
          "PIN of the room, when the room's config sets one", nullptr, flags));
  g_object_class_install_property (gobject_class, PROP_API_SECRET,
      g_param_spec_string ("api-secret", "API secret",
          "Janus' api_secret, when janus.jcfg sets one", nullptr, flags));
  g_object_class_install_property (gobject_class, PROP_TOKEN,
      g_param_spec_string ("token", "Token",
          "A Janus auth token, when janus.jcfg enables token_auth", nullptr, flags));
}

gboolean
rtcstream_janus_uri_is_janus (const gchar *uri)
{
  return api::is_janus_uri (uri);
}

gboolean
rtcstream_janus_uri_parse (const gchar *uri, gchar **display, GError **error)
{
  api::Uri u;
  std::string err;
  if (!api::parse_uri (uri, u, err)) {
    g_set_error_literal (error, RTCSTREAM_SIGNALLER_ERROR, RTCSTREAM_SIGNALLER_ERROR_FAILED,
        err.c_str ());
    return FALSE;
  }
  if (display)
    *display = g_strdup (u.display.c_str ());
  return TRUE;
}

RtcstreamJanusSignaller *
rtcstream_janus_signaller_new_from_uri (const gchar *uri, GError **error)
{
  api::Uri u;
  std::string err;
  if (!api::parse_uri (uri, u, err)) {
    g_set_error_literal (error, RTCSTREAM_SIGNALLER_ERROR, RTCSTREAM_SIGNALLER_ERROR_FAILED,
        err.c_str ());
    return nullptr;
  }
  auto opt = [] (const std::string &v) { return v.empty () ? nullptr : v.c_str (); };
  return RTCSTREAM_JANUS_SIGNALLER (g_object_new (RTCSTREAM_TYPE_JANUS_SIGNALLER,
      "url", u.url.c_str (), "room", u.room.c_str (), "display", u.display.c_str (),
      "pin", opt (u.pin), "token", opt (u.token), "api-secret", opt (u.api_secret), nullptr));
}
