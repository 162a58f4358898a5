// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Janus' REST API in short: POST {"janus":"create"} to the base URL makes a
// Janus session, POST {"janus":"attach"} to /SESSION makes a handle on the
// VideoRoom plugin, POSTs to /SESSION/HANDLE carry plugin requests ("message",
// answered by an "ack" and later an event) and candidates ("trickle"), and a
// GET on /SESSION long-polls the events. One signaller is one Janus session
// with one handle, so it carries exactly one WebRTC session.
//
// Threads: everything below runs on the worker thread unless marked.
#include "janus-signaller.h"

#include <libsoup/soup.h>
#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "janus-api.h"
#include "rtcstream/ref.h"
#include "rtcstream/signallers/soup-session.h"

GST_DEBUG_CATEGORY_STATIC (rtcstream_janus_signaller_debug);
#define GST_CAT_DEFAULT rtcstream_janus_signaller_debug

using json = nlohmann::json;
namespace api = rtcstream::janus;
using rtcstream::Ref;
using rtcstream::SoupSessionOptions;
using rtcstream::make_soup_session;

namespace {

enum {
  PROP_0,
  PROP_URL,
  PROP_ROOM,
  PROP_DISPLAY,
  PROP_PIN,
  PROP_API_SECRET,
  PROP_TOKEN,
  PROP_TLS_CA_FILE,
  PROP_PRODUCER_TIMEOUT,
};

constexpr guint kKeepaliveMs = 25000;      // Janus drops sessions idle for 60 s
constexpr guint kListIntervalMs = 500;     // consumer: looking for the publisher
constexpr guint kWatchIntervalMs = 1000;   // consumer: is the publisher still there
constexpr gsize kMaxReply = 4 * 1024 * 1024;

enum class Phase { Idle, Connecting, Joining, Joined, Stopped };

struct Settings {
  std::string url = "http://127.0.0.1:8088/janus";
  std::string room;
  std::string display;
  std::string pin;
  std::string api_secret;
  std::string token;
  std::string tls_ca_file;
  gint producer_timeout_ms = 30000;
  // The base's properties, copied in at start (unset in State::settings).
  std::string stream_name;
  RtcstreamRole role = RTCSTREAM_ROLE_PRODUCER;

  // The name we publish as or look for.
  std::string name () const { return display.empty () ? stream_name : display; }
};

struct State {
  std::mutex lock;
  Settings settings;  // guarded by lock, copied out at start

  // Worker-thread-only state.
  Settings cfg;  // copy taken at start
  Ref<SoupSession> http;
  Ref<GCancellable> cancellable;
  Phase phase = Phase::Idle;
  guint64 janus_session = 0;
  guint64 handle = 0;
  guint64 feed = 0;               // consumer: the publisher's id
  std::string session_id;         // ours, for the element; empty when none
  bool jsep_acked = false;        // our SDP reached Janus: candidates may follow
  std::vector<json> pending_candidates;
  guint keepalive_timer = 0;
  guint list_timer = 0;
  gint64 wait_deadline = 0;       // consumer: monotonic us, 0 = forever
  guint64 next_transaction = 0;
  guint generation = 0;           // bumped by start and stop: older replies are stale
};

}  // namespace

struct _RtcstreamJanusSignaller {
  RtcstreamBaseSignaller parent;
  State *state;  // owned by the base (rtcstream_base_signaller_set_state)
};

G_DEFINE_TYPE_WITH_CODE (RtcstreamJanusSignaller, rtcstream_janus_signaller,
    RTCSTREAM_TYPE_BASE_SIGNALLER,
    GST_DEBUG_CATEGORY_INIT (rtcstream_janus_signaller_debug, "rtcstream-janus", 0,
        "rtcstream Janus VideoRoom signaller"))

namespace {

using Self = RtcstreamJanusSignaller;
using SelfRef = Ref<RtcstreamJanusSignaller>;
// reply is null when the request failed; error then says why.
using ReplyFn = std::function<void (Self *self, const json *reply, const std::string &error)>;

RtcstreamSignaller *
as_iface (Self *self)
{
  return RTCSTREAM_SIGNALLER (self);
}

RtcstreamBaseSignaller *
base (Self *self)
{
  return RTCSTREAM_BASE_SIGNALLER (self);
}

std::string
where (Self *self)
{
  return "room " + self->state->cfg.room + " on " + self->state->cfg.url;
}

// Ends our WebRTC session, if any, telling the element.
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

// Fatal: the element posts it as an error. Ends our session too.
void
fail (Self *self, RtcstreamSignallerError code, const std::string &msg)
{
  State *st = self->state;
  if (st->phase == Phase::Stopped)
    return;
  rtcstream::cancel_timer (base (self), st->list_timer);
  rtcstream::emit_error (base (self), code, msg);
  end_session (self, "signaller error");
}

std::string
path_url (Self *self, bool with_session, bool with_handle)
{
  State *st = self->state;
  std::string url = st->cfg.url;
  while (!url.empty () && url.back () == '/')
    url.pop_back ();
  if (with_session)
    url += "/" + std::to_string (st->janus_session);
  if (with_handle)
    url += "/" + std::to_string (st->handle);
  return url;
}

void
add_auth (Self *self, json &body)
{
  const Settings &c = self->state->cfg;
  if (!c.api_secret.empty ())
    body["apisecret"] = c.api_secret;
  if (!c.token.empty ())
    body["token"] = c.token;
}

struct Pending {
  SelfRef self;
  Ref<SoupMessage> msg;
  ReplyFn done;
  guint generation;
};

void
on_http_reply (GObject *source, GAsyncResult *res, gpointer user)
{
  std::unique_ptr<Pending> p (static_cast<Pending *> (user));
  g_autoptr (GError) err = nullptr;
  g_autoptr (GBytes) bytes = soup_session_send_and_read_finish (SOUP_SESSION (source), res, &err);
  Self *self = p->self.get ();
  // Cancelled by stop(), or a reply to a run before a restart.
  if (self->state->phase == Phase::Stopped || p->generation != self->state->generation)
    return;
  if (!bytes) {
    p->done (self, nullptr, err->message);
    return;
  }
  guint status = soup_message_get_status (p->msg.get ());
  gsize len = 0;
  const char *data = static_cast<const char *> (g_bytes_get_data (bytes, &len));
  if (status != SOUP_STATUS_OK) {
    const char *reason = soup_message_get_reason_phrase (p->msg.get ());
    p->done (self, nullptr, "HTTP " + std::to_string (status) + " " + (reason ? reason : ""));
    return;
  }
  if (len > kMaxReply) {
    p->done (self, nullptr, "reply too large");
    return;
  }
  std::string_view text (data ? data : "", data ? len : 0);
  json reply = json::parse (text, nullptr, false);
  if (reply.is_discarded ()) {
    p->done (self, nullptr, "invalid JSON in reply");
    return;
  }
  GST_TRACE_OBJECT (self, "<- %s", reply.dump ().c_str ());
  p->done (self, &reply, std::string ());
}

// GET when body is null, else POST of body (with a transaction and the
// credentials added).
void
http_request (Self *self, const std::string &url, json body, ReplyFn done)
{
  State *st = self->state;
  const bool post = !body.is_null ();
  std::string target = url;
  if (post) {
    body["transaction"] = "rtcstream-" + std::to_string (++st->next_transaction);
    add_auth (self, body);
  }
  SoupMessage *msg = soup_message_new (post ? "POST" : "GET", target.c_str ());
  if (!msg) {
    done (self, nullptr, "invalid address '" + target + "'");
    return;
  }
  if (post) {
    std::string text = body.dump ();
    GST_TRACE_OBJECT (self, "-> %s %s", target.c_str (), text.c_str ());
    g_autoptr (GBytes) bytes = g_bytes_new (text.data (), text.size ());
    soup_message_set_request_body_from_bytes (msg, "application/json", bytes);
  }
  auto *p = new Pending{SelfRef::take_ref (self), Ref<SoupMessage>::adopt (msg), std::move (done),
      st->generation};
  soup_session_send_and_read_async (st->http.get (), msg, G_PRIORITY_DEFAULT,
      st->cancellable.get (), on_http_reply, p);
}

// Turns a VideoRoom or Janus error into a sentence and fails with it.
void
fail_with_janus_error (Self *self, const char *what, gint64 code, const std::string &reason)
{
  api::ErrorMeaning m = api::explain_error (code);
  fail (self, m.kind, std::string ("Janus refused to ") + what + " in " + where (self) + " (" +
      std::to_string (code) + " " + reason + ")" + m.hint);
}

// Checks a reply for Janus or VideoRoom errors; true when it is fine.
bool
check_reply (Self *self, const char *what, const json *reply, const std::string &error)
{
  if (!reply) {
    fail (self, RTCSTREAM_SIGNALLER_ERROR_UNREACHABLE,
        std::string ("Could not ") + what + " on Janus at " + self->state->cfg.url + ": " +
        error + ". Is Janus running there with its HTTP transport enabled?");
    return false;
  }
  if (const json *e = api::janus_error (*reply)) {
    fail_with_janus_error (self, what, e->value ("code", (gint64) 0), e->value ("reason", ""));
    return false;
  }
  if (const json *d = api::plugin_data (*reply)) {
    if (d->contains ("error_code")) {
      fail_with_janus_error (self, what, d->value ("error_code", (gint64) 0),
          d->value ("error", ""));
      return false;
    }
  }
  return true;
}

// A plugin request on our handle, with an optional JSEP.
void
send_message (Self *self, json body, const json &jsep, const char *what, ReplyFn done = nullptr)
{
  json msg = {{"janus", "message"}, {"body", std::move (body)}};
  if (!jsep.is_null ())
    msg["jsep"] = jsep;
  std::string w = what;
  http_request (self, path_url (self, true, true), std::move (msg),
      [w, done] (Self *self, const json *reply, const std::string &error) {
        if (!check_reply (self, w.c_str (), reply, error))
          return;
        if (done)
          done (self, reply, error);
      });
}

void
send_trickle (Self *self, const json &candidate)
{
  json msg = {{"janus", "trickle"}, {"candidate", candidate}};
  http_request (self, path_url (self, true, true), std::move (msg),
      [] (Self *self, const json *reply, const std::string &error) {
        // A lost candidate is not fatal: ICE may still succeed with others.
        if (!reply || api::janus_error (*reply))
          GST_WARNING_OBJECT (self, "trickle refused: %s",
              reply ? reply->dump ().c_str () : error.c_str ());
      });
}

void
flush_candidates (Self *self)
{
  State *st = self->state;
  st->jsep_acked = true;
  std::vector<json> pending;
  pending.swap (st->pending_candidates);
  for (const json &c : pending)
    send_trickle (self, c);
}

void
emit_description (Self *self, const json &jsep)
{
  State *st = self->state;
  GstWebRTCSessionDescription *desc = api::make_description (jsep);
  if (!desc) {
    fail (self, RTCSTREAM_SIGNALLER_ERROR_PROTOCOL,
        "Janus sent an unusable SDP for " + where (self));
    return;
  }
  rtcstream_signaller_emit_session_description (as_iface (self), st->session_id.c_str (), desc);
  gst_webrtc_session_description_free (desc);
}

// --- producer -------------------------------------------------------------------

void
join_as_publisher (Self *self)
{
  State *st = self->state;
  json body = {{"request", "join"}, {"ptype", "publisher"},
      {"room", api::room_value (st->cfg.room)}, {"display", st->cfg.name ()}};
  if (!st->cfg.pin.empty ())
    body["pin"] = st->cfg.pin;
  st->phase = Phase::Joining;
  send_message (self, std::move (body), nullptr, "join as publisher");
}

// The join is answered by an event ("joined"); we then offer.
void
on_publisher_joined (Self *self, const json &data)
{
  State *st = self->state;
  st->phase = Phase::Joined;
  st->session_id = "janus-" + std::to_string (st->handle);
  GST_INFO_OBJECT (self, "joined %s as publisher %s (id %s)", where (self).c_str (),
      st->cfg.name ().c_str (), data.value ("id", json ()).dump ().c_str ());
  rtcstream_signaller_emit_registered (as_iface (self));
  rtcstream_signaller_emit_session_requested (as_iface (self), st->session_id.c_str (),
      "janus", nullptr);
}

// --- consumer -------------------------------------------------------------------

void list_participants (Self *self);

void
subscribe (Self *self, guint64 feed)
{
  State *st = self->state;
  st->feed = feed;
  st->phase = Phase::Joining;
  json body = {{"request", "join"}, {"ptype", "subscriber"},
      {"room", api::room_value (st->cfg.room)}, {"streams", json::array ({{{"feed", feed}}})}};
  if (!st->cfg.pin.empty ())
    body["pin"] = st->cfg.pin;
  GST_INFO_OBJECT (self, "subscribing to publisher %" G_GUINT64_FORMAT " ('%s')", feed,
      st->cfg.name ().c_str ());
  send_message (self, std::move (body), nullptr, "subscribe");
}

void
schedule_list (Self *self, guint delay_ms)
{
  State *st = self->state;
  rtcstream::cancel_timer (base (self), st->list_timer);
  st->list_timer = rtcstream::post_delayed (self, delay_ms, [] (Self *self) {
    self->state->list_timer = 0;
    if (self->state->phase != Phase::Stopped)
      list_participants (self);
  });
}

void
on_participants (Self *self, const json &data)
{
  State *st = self->state;
  const std::string name = st->cfg.name ();
  bool name_used = false;
  guint64 feed = api::find_publisher (data, name, &name_used);

  if (st->cfg.role == RTCSTREAM_ROLE_PRODUCER) {
    if (name_used) {
      fail (self, RTCSTREAM_SIGNALLER_ERROR_NAME_TAKEN,
          "Display name '" + name + "' is already in use in " + where (self) +
          ": choose another display= in the URI, or stop the other publisher");
      return;
    }
    join_as_publisher (self);
    return;
  }

  if (st->phase == Phase::Joined) {
    // Watching our publisher: is it still publishing?
    if (api::find_publisher (data, name, nullptr) != st->feed) {
      end_session (self, "the publisher left the room");
      return;
    }
    schedule_list (self, kWatchIntervalMs);
    return;
  }
  if (st->phase != Phase::Connecting)
    return;
  if (feed) {
    subscribe (self, feed);
    return;
  }
  const gint timeout = st->cfg.producer_timeout_ms;
  if (timeout == 0 || (st->wait_deadline && g_get_monotonic_time () >= st->wait_deadline)) {
    fail (self, RTCSTREAM_SIGNALLER_ERROR_NOT_FOUND,
        "No publisher named '" + name + "' " +
        (timeout == 0 ? std::string ("is in ") : "appeared within " +
            std::to_string (timeout) + " ms in ") + where (self) +
        ": check display= in the URI, start the publisher, or raise producer-timeout");
    return;
  }
  if (timeout > 0 && !st->wait_deadline)
    st->wait_deadline = g_get_monotonic_time () + (gint64) timeout * 1000;
  GST_DEBUG_OBJECT (self, "no publisher '%s' yet, looking again", name.c_str ());
  schedule_list (self, kListIntervalMs);
}

void
list_participants (Self *self)
{
  json body = {{"request", "listparticipants"}, {"room", api::room_value (self->state->cfg.room)}};
  send_message (self, std::move (body), nullptr, "list the participants",
      [] (Self *self, const json *reply, const std::string &) {
        const json *data = api::plugin_data (*reply);
        if (!data || data->value ("videoroom", "") != "participants") {
          fail (self, RTCSTREAM_SIGNALLER_ERROR_PROTOCOL,
              "Janus did not list the participants of " + where (self) +
              ": is janus.plugin.videoroom loaded?");
          return;
        }
        on_participants (self, *data);
      });
}

// --- events ---------------------------------------------------------------------

void
on_videoroom_event (Self *self, const json &data, const json *jsep)
{
  State *st = self->state;
  const std::string kind = data.value ("videoroom", "");
  if (data.contains ("error_code")) {
    fail_with_janus_error (self,
        st->cfg.role == RTCSTREAM_ROLE_PRODUCER ? "publish" : "subscribe",
        data.value ("error_code", (gint64) 0), data.value ("error", ""));
    return;
  }
  if (st->cfg.role == RTCSTREAM_ROLE_PRODUCER) {
    if (kind == "joined" && st->phase == Phase::Joining) {
      on_publisher_joined (self, data);
    } else if (jsep && !st->session_id.empty ()) {
      emit_description (self, *jsep);
    }
    return;
  }
  if (kind == "attached" && jsep && st->phase == Phase::Joining) {
    st->phase = Phase::Joined;
    st->session_id = "janus-" + std::to_string (st->handle);
    std::string peer = "janus-" + std::to_string (st->feed);
    rtcstream_signaller_emit_session_started (as_iface (self), st->session_id.c_str (),
        peer.c_str ());
    emit_description (self, *jsep);
    // From now on, look out for the publisher leaving.
    schedule_list (self, kWatchIntervalMs);
    return;
  }
  if (st->session_id.empty ())
    return;
  // Ways Janus tells a subscriber its feed is gone, depending on how it left.
  auto same_feed = [st] (const json &v) {
    return v.is_number_unsigned () && v.get<guint64> () == st->feed;
  };
  if ((data.contains ("unpublished") && same_feed (data["unpublished"])) ||
      (data.contains ("leaving") && same_feed (data["leaving"])) ||
      (kind == "event" && data.value ("left", "") == "ok")) {
    end_session (self, "the publisher left");
  }
}

void
on_event (Self *self, const json &ev)
{
  if (!ev.is_object ())
    return;
  const std::string janus = ev.value ("janus", "");
  if (janus == "keepalive" || janus == "ack")
    return;
  if (janus == "webrtcup") {
    GST_INFO_OBJECT (self, "Janus reports the PeerConnection up");
  } else if (janus == "hangup") {
    const std::string reason = ev.value ("reason", "");
    GST_INFO_OBJECT (self, "Janus hung up: %s", reason.c_str ());
    if (self->state->cfg.role == RTCSTREAM_ROLE_PRODUCER && !self->state->session_id.empty ()) {
      // Nobody receives the stream any more: say so rather than publish nothing.
      fail (self, RTCSTREAM_SIGNALLER_ERROR_DISCONNECTED,
          "Janus closed the publisher's PeerConnection in " + where (self) + " (" + reason +
          "): check the network path to Janus (ICE) and its log");
      return;
    }
    end_session (self, "Janus hung up the PeerConnection");
  } else if (janus == "detached") {
    end_session (self, "Janus detached our handle");
  } else if (janus == "event") {
    const json *data = api::plugin_data (ev);
    auto jsep = ev.find ("jsep");
    if (data)
      on_videoroom_event (self, *data, jsep != ev.end () && jsep->is_object () ? &*jsep : nullptr);
  } else if (janus == "timeout") {
    fail (self, RTCSTREAM_SIGNALLER_ERROR_DISCONNECTED,
        "Janus timed our session out in " + where (self));
  } else {
    GST_DEBUG_OBJECT (self, "Janus event '%s'", janus.c_str ());
  }
}

void
poll_events (Self *self)
{
  State *st = self->state;
  std::string url = path_url (self, true, false) + "?maxev=10";
  if (!st->cfg.api_secret.empty ()) {
    g_autofree gchar *v = g_uri_escape_string (st->cfg.api_secret.c_str (), nullptr, FALSE);
    url += std::string ("&apisecret=") + v;
  }
  if (!st->cfg.token.empty ()) {
    g_autofree gchar *v = g_uri_escape_string (st->cfg.token.c_str (), nullptr, FALSE);
    url += std::string ("&token=") + v;
  }
  http_request (self, url, nullptr, [] (Self *self, const json *reply, const std::string &error) {
    if (!reply) {
      fail (self, RTCSTREAM_SIGNALLER_ERROR_DISCONNECTED,
          "Lost Janus at " + self->state->cfg.url + " (" + error + ")");
      return;
    }
    if (const json *e = api::janus_error (*reply)) {
      fail_with_janus_error (self, "poll events", e->value ("code", (gint64) 0),
          e->value ("reason", ""));
      return;
    }
    SelfRef keep = SelfRef::take_ref (self);
    if (reply->is_array ()) {
      for (const json &ev : *reply) {
        if (self->state->phase == Phase::Stopped)
          return;
        on_event (self, ev);
      }
    } else {
      on_event (self, *reply);
    }
    if (self->state->phase != Phase::Stopped)
      poll_events (self);
  });
}

void
schedule_keepalive (Self *self)
{
  State *st = self->state;
  st->keepalive_timer = rtcstream::post_delayed (self, kKeepaliveMs, [] (Self *self) {
    self->state->keepalive_timer = 0;
    if (self->state->phase == Phase::Stopped)
      return;
    http_request (self, path_url (self, true, false), json {{"janus", "keepalive"}},
        [] (Self *self, const json *reply, const std::string &error) {
          if (!reply)
            GST_WARNING_OBJECT (self, "keepalive failed: %s", error.c_str ());
        });
    schedule_keepalive (self);
  });
}

// --- start / stop ---------------------------------------------------------------

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

// The base's vfuncs, all on the worker thread.

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
  self->state = rtcstream::make_signaller_state<State> (base (self));
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
  {PROP_TLS_CA_FILE, &Settings::tls_ca_file},
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
  switch (prop_id) {
    case PROP_PRODUCER_TIMEOUT:
      s.producer_timeout_ms = g_value_get_int (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
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
  switch (prop_id) {
    case PROP_PRODUCER_TIMEOUT:
      g_value_set_int (value, s.producer_timeout_ms);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
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
  g_object_class_install_property (gobject_class, PROP_TLS_CA_FILE,
      g_param_spec_string ("tls-ca-file", "TLS CA file",
          "PEM file of the certificate authorities to trust for https:// (e.g. Janus' "
          "self-signed certificate); unset uses the system's trust store", nullptr, flags));
  g_object_class_install_property (gobject_class, PROP_PRODUCER_TIMEOUT,
      g_param_spec_int ("producer-timeout", "Producer timeout",
          "Consumer: how long to wait (ms) for the publisher to appear in the room before "
          "failing; -1 waits forever, 0 fails at once if it is not there",
          -1, G_MAXINT, 30000, flags));
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
