// SPDX-License-Identifier: LGPL-2.1-or-later
//
// RtcstreamJanusSignaller's side of Janus' REST API: requests and their
// replies (and what their errors mean), trickled candidates, the long poll
// of the Janus session's events, and the keepalives that keep it alive.
// Threads: all on the signaller's worker thread.
#include "janus-signaller-private.h"

#include <memory>
#include <string>
#include <string_view>

#include "janus-api.h"

#define GST_CAT_DEFAULT rtcstream_janus_signaller_debug

namespace api = rtcstream::janus;

namespace rtcstream::janus_signaller {

namespace {

constexpr guint kKeepaliveMs = 25000;      // Janus drops sessions idle for 60 s
constexpr gsize kMaxReply = 4 * 1024 * 1024;

struct Pending {
  Ref<Self> self;
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

}  // namespace

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
  auto *p = new Pending{Ref<Self>::take_ref (self), Ref<SoupMessage>::adopt (msg), std::move (done),
      st->generation};
  soup_session_send_and_read_async (st->http.get (), msg, G_PRIORITY_DEFAULT,
      st->cancellable.get (), on_http_reply, p);
}

void
fail_with_janus_error (Self *self, const char *what, gint64 code, const std::string &reason)
{
  api::ErrorMeaning m = api::explain_error (code);
  fail (self, m.kind, std::string ("Janus refused to ") + what + " in " + where (self) + " (" +
      std::to_string (code) + " " + reason + ")" + m.hint);
}

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

void
send_message (Self *self, json body, const json &jsep, const char *what, ReplyFn done)
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

namespace {

// Worker: a long poll of Janus' events failed (no HTTP answer: Janus or the
// path to it is down). Janus keeps our session for its session_timeout (60 s
// by default), and the PeerConnection, which it relays, may be fine: warn and
// poll again with backoff for reconnect-timeout, then fail. Another HTTP
// status (a proxy in front of Janus that restarts) is retried the same way;
// a Janus that restarted answers 404 (it forgot our session): fail at once.
void
poll_failed (Self *self, const std::string &error)
{
  State *st = self->state;
  const gint timeout = st->cfg.reconnect_timeout_ms;
  const gint64 now = g_get_monotonic_time ();
  if (error.rfind ("HTTP 404", 0) == 0) {
    // Janus answers, and has no such session: it restarted (or timed us out).
    fail (self, RTCSTREAM_SIGNALLER_ERROR_DISCONNECTED, "Janus at " + st->cfg.url +
        " forgot our session (" + error + " for its events): it restarted, or timed the "
        "session out; the media it relayed is gone. Start the pipeline again");
    return;
  }
  if (timeout == 0) {
    fail (self, RTCSTREAM_SIGNALLER_ERROR_DISCONNECTED, "Lost Janus at " + st->cfg.url +
        " (" + error + "; reconnect-timeout is 0: no retry)");
    return;
  }
  if (!st->poll_lost_at_us) {
    st->poll_lost_at_us = now;
    emit_warning (&self->parent, RTCSTREAM_SIGNALLER_ERROR_DISCONNECTED,
        "Lost Janus at " + st->cfg.url + " (" + error + "): polling it again" +
        (timeout > 0 ? " for up to " + std::to_string (timeout) + " ms (reconnect-timeout)"
                     : std::string (" until it answers (reconnect-timeout is -1)")) +
        "; the media goes on as long as Janus, which relays it, does");
  } else if (timeout > 0 && now - st->poll_lost_at_us >= (gint64) timeout * 1000) {
    fail (self, RTCSTREAM_SIGNALLER_ERROR_DISCONNECTED, "Lost Janus at " + st->cfg.url +
        " (" + error + ") and it did not answer again within reconnect-timeout (" +
        std::to_string (timeout) + " ms): check that Janus runs, or raise reconnect-timeout");
    return;
  }
  const guint generation = st->generation;
  const guint delay = rtcstream::reconnect_delay_ms (st->poll_attempts++);
  GST_DEBUG_OBJECT (self, "poll %u failed (%s): polling again in %u ms", st->poll_attempts,
      error.c_str (), delay);
  st->poll_timer = rtcstream::post_delayed (self, delay, [generation] (Self *self) {
        State *st = self->state;
        st->poll_timer = 0;
        if (st->phase != Phase::Stopped && st->generation == generation)
          poll_events (self);
      });
}

}  // namespace

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
      poll_failed (self, error);
      return;
    }
    State *st = self->state;
    if (st->poll_lost_at_us) {
      GST_INFO_OBJECT (self, "Janus at %s answers again, %" G_GINT64_FORMAT " ms after the "
          "first failed poll", st->cfg.url.c_str (),
          (g_get_monotonic_time () - st->poll_lost_at_us) / 1000);
      st->poll_lost_at_us = 0;
      st->poll_attempts = 0;
    }
    if (const json *e = api::janus_error (*reply)) {
      fail_with_janus_error (self, "poll events", e->value ("code", (gint64) 0),
          e->value ("reason", ""));
      return;
    }
    Ref<Self> keep = Ref<Self>::take_ref (self);
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

}  // namespace rtcstream::janus_signaller
