// SPDX-License-Identifier: LGPL-2.1-or-later
#include "whip-signaller.h"

#include <gst/sdp/sdp.h>
#include <libsoup/soup.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "rtcstream/ref.h"
#include "rtcstream/signallers/soup-session.h"
#include "rtcstream/signallers/whip-util.h"

GST_DEBUG_CATEGORY_STATIC (rtcstream_whip_signaller_debug);
#define GST_CAT_DEFAULT rtcstream_whip_signaller_debug

using rtcstream::Ref;
using rtcstream::SoupSessionOptions;
using rtcstream::make_soup_session;
using rtcstream::emit_error;
namespace whip = rtcstream::whip;

namespace {

enum {
  PROP_0,
  PROP_URL,
  PROP_ICE_MODE,
  PROP_TIMEOUT,
  PROP_RESOURCE_URL,
};

constexpr gint kDefaultTimeoutMs = 15000;
// How long stop() waits for the DELETE of the resource.
constexpr guint kDeleteTimeoutS = 3;
// Longest SDP or sdpfrag reply we accept from an endpoint.
constexpr gsize kMaxReplyBytes = 1024 * 1024;
// Longest reply body quoted in an error message.
constexpr gsize kMaxQuotedBody = 200;

enum class Phase { Idle, Started, Stopped };

struct SdpFree {
  void operator() (GstSDPMessage *m) const { gst_sdp_message_free (m); }
};

struct State {
  // Settings: guarded by lock, copied out before use (auth-token and
  // tls-ca-file are the base's). resource_url is a result, written on the
  // worker under the lock.
  std::mutex lock;
  std::string url;
  RtcstreamWhipIceMode ice_mode = RTCSTREAM_WHIP_ICE_MODE_TRICKLE;
  gint timeout_ms = kDefaultTimeoutMs;
  std::string resource_url;

  // Worker-thread-only state, for the one session of a run.
  Ref<SoupSession> http;
  GCancellable *cancellable = nullptr;
  Phase phase = Phase::Idle;
  std::string endpoint;     // the URL of this run
  std::string token;        // the bearer token of this run
  RtcstreamWhipIceMode mode = RTCSTREAM_WHIP_ICE_MODE_TRICKLE;
  guint gather_timeout_ms = kDefaultTimeoutMs;  // 0: no limit
  std::string session_id;
  std::unique_ptr<GstSDPMessage, SdpFree> offer;
  bool posted = false;
  std::string resource;     // Location of the session, once answered
  std::string etag;
  std::vector<whip::Candidate> candidates;  // full: all; trickle: not sent yet
  bool gathering_done = false;
  bool end_sent = false;
  bool trickle_off = false;
  bool patch_in_flight = false;
  guint gather_timer = 0;
};

}  // namespace

struct _RtcstreamWhipSignaller {
  RtcstreamBaseSignaller parent;
  State *state;  // owned by the base (rtcstream_base_signaller_set_state)
};

G_DEFINE_TYPE_WITH_CODE (RtcstreamWhipSignaller, rtcstream_whip_signaller,
    RTCSTREAM_TYPE_BASE_SIGNALLER,
    GST_DEBUG_CATEGORY_INIT (rtcstream_whip_signaller_debug, "rtcstream-whip", 0,
        "rtcstream WHIP/WHEP client signaller"))

GType
rtcstream_whip_ice_mode_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {RTCSTREAM_WHIP_ICE_MODE_TRICKLE,
        "POST the offer at once and send candidates in PATCH requests", "trickle"},
    {RTCSTREAM_WHIP_ICE_MODE_FULL,
        "Gather every candidate first and send them inside the offer", "full"},
    {0, nullptr, nullptr},
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("RtcstreamWhipIceMode", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

namespace {

RtcstreamSignaller *
as_iface (RtcstreamWhipSignaller *self)
{
  return RTCSTREAM_SIGNALLER (self);
}

// WHIP when publishing, WHEP when watching: for messages.
const char *
protocol_name (RtcstreamWhipSignaller *self)
{
  RtcstreamRole role = rtcstream_base_signaller_get_role (&self->parent);
  return role == RTCSTREAM_ROLE_PRODUCER ? "WHIP" : "WHEP";
}

// A new request to url, with the bearer token when one is set.
SoupMessage *
new_request (RtcstreamWhipSignaller *self, const char *method, const std::string &url)
{
  SoupMessage *msg = soup_message_new (method, url.c_str ());
  if (msg && !self->state->token.empty ()) {
    std::string auth = "Bearer " + self->state->token;
    soup_message_headers_replace (soup_message_get_request_headers (msg), "Authorization",
        auth.c_str ());
  }
  return msg;
}

void
set_body (SoupMessage *msg, const char *content_type, const std::string &body)
{
  g_autoptr (GBytes) bytes = g_bytes_new (body.data (), body.size ());
  soup_message_set_request_body_from_bytes (msg, content_type, bytes);
}

std::string
body_text (GBytes *body)
{
  if (!body)
    return {};
  gsize len = 0;
  const char *data = static_cast<const char *> (g_bytes_get_data (body, &len));
  return data ? std::string (data, len) : std::string ();
}

// "answered 401 Unauthorized (body)" for an error message.
std::string
describe_status (SoupMessage *msg, GBytes *body)
{
  guint status = soup_message_get_status (msg);
  const char *reason = soup_message_get_reason_phrase (msg);
  if (!reason || !*reason)
    reason = soup_status_get_phrase (status);
  std::string out = "answered " + std::to_string (status);
  if (reason)
    out += std::string (" ") + reason;
  std::string text = body_text (body);
  while (!text.empty () && g_ascii_isspace (text.back ()))
    text.pop_back ();
  bool printable = g_utf8_validate (text.data (), (gssize) text.size (), nullptr);
  if (!text.empty () && text.size () <= kMaxQuotedBody && printable)
    out += " (\"" + text + "\")";
  return out;
}

// What the user can do about an HTTP error status.
std::string
status_hint (guint status)
{
  switch (status) {
    case SOUP_STATUS_UNAUTHORIZED:
    case SOUP_STATUS_FORBIDDEN:
      return "set auth-token to the bearer token this endpoint expects";
    case SOUP_STATUS_NOT_FOUND:
      return "check the endpoint URL (and, for WHEP, that the stream is being published)";
    case SOUP_STATUS_CONFLICT:
      return "the endpoint is busy with another session for this stream";
    case SOUP_STATUS_UNSUPPORTED_MEDIA_TYPE:
    case SOUP_STATUS_UNPROCESSABLE_ENTITY:
    case SOUP_STATUS_NOT_ACCEPTABLE:
      return "it refused our offer: try other video-codecs/audio-codecs";
    default:
      if (status >= 500)
        return "the endpoint failed: see its logs";
      return "it refused the request";
  }
}

RtcstreamSignallerError
status_code (guint status)
{
  switch (status) {
    case SOUP_STATUS_NOT_FOUND:
      return RTCSTREAM_SIGNALLER_ERROR_NOT_FOUND;
    case SOUP_STATUS_CONFLICT:
      return RTCSTREAM_SIGNALLER_ERROR_NAME_TAKEN;
    case SOUP_STATUS_UNAUTHORIZED:
    case SOUP_STATUS_FORBIDDEN:
      return RTCSTREAM_SIGNALLER_ERROR_REFUSED;
    default:
      return status >= 500 ? RTCSTREAM_SIGNALLER_ERROR_FAILED : RTCSTREAM_SIGNALLER_ERROR_REFUSED;
  }
}

// Runs on the worker when an HTTP exchange ends. body is null when the
// request failed (err set); the status is then 0.
using Reply = std::function<void (RtcstreamWhipSignaller *, SoupMessage *, GBytes *, GError *)>;

struct RequestCtx {
  Ref<RtcstreamWhipSignaller> self;
  Ref<SoupMessage> msg;
  Reply fn;
};

// Worker thread. Sends msg (taking it) and calls fn with the reply unless
// the signaller was stopped meanwhile.
void
send_request (RtcstreamWhipSignaller *self, SoupMessage *msg, Reply fn)
{
  State *st = self->state;
  auto *ctx = new RequestCtx{Ref<RtcstreamWhipSignaller>::take_ref (self),
      Ref<SoupMessage>::adopt (msg), std::move (fn)};
  g_autofree char *where = g_uri_to_string_partial (soup_message_get_uri (msg),
      G_URI_HIDE_PASSWORD);
  GST_DEBUG_OBJECT (self, "%s %s", soup_message_get_method (msg), where);
  soup_session_send_and_read_async (st->http.get (), msg, G_PRIORITY_DEFAULT, st->cancellable,
      [] (GObject *source, GAsyncResult *res, gpointer data) {
        std::unique_ptr<RequestCtx> ctx (static_cast<RequestCtx *> (data));
        g_autoptr (GError) err = nullptr;
        g_autoptr (GBytes) body = soup_session_send_and_read_finish (SOUP_SESSION (source), res,
            &err);
        if (ctx->self->state->phase != Phase::Started)
          return;
        ctx->fn (ctx->self.get (), ctx->msg.get (), body, err);
      }, ctx);
}

void flush_trickle (RtcstreamWhipSignaller *self);

// Worker: the endpoint answered the POST of the offer.
void
on_post_reply (RtcstreamWhipSignaller *self, SoupMessage *msg, GBytes *body, GError *err)
{
  State *st = self->state;
  const std::string what = std::string ("The ") + protocol_name (self) + " endpoint " +
      st->endpoint;
  if (err) {
    const bool tls = err->domain == G_TLS_ERROR;
    emit_error (&self->parent, RTCSTREAM_SIGNALLER_ERROR_UNREACHABLE,
        "Could not reach " + std::string (protocol_name (self)) + " endpoint " + st->endpoint +
        ": " + err->message +
        (tls ? ". Its TLS certificate is not trusted: set tls-ca-file to the certificate "
               "(or its CA) if you trust it"
             : ". Check the URL and that the server is running"));
    return;
  }
  guint status = soup_message_get_status (msg);
  if (status != SOUP_STATUS_CREATED && status != SOUP_STATUS_OK) {
    emit_error (&self->parent, status_code (status),
        what + " " + describe_status (msg, body) + ": " + status_hint (status));
    return;
  }
  SoupMessageHeaders *headers = soup_message_get_response_headers (msg);
  const char *ctype = soup_message_headers_get_content_type (headers, nullptr);
  if (g_ascii_strcasecmp (ctype ? ctype : "", "application/sdp") != 0) {
    emit_error (&self->parent, RTCSTREAM_SIGNALLER_ERROR_PROTOCOL,
        what + " answered with content type '" + (ctype ? ctype : "none") +
        "' instead of application/sdp: is the URL a " + protocol_name (self) + " endpoint?");
    return;
  }
  std::string text = body_text (body);
  GstSDPMessage *sdp = nullptr;
  if (text.size () > kMaxReplyBytes || gst_sdp_message_new_from_text (text.c_str (), &sdp) !=
      GST_SDP_OK || !sdp || gst_sdp_message_medias_len (sdp) == 0) {
    if (sdp)
      gst_sdp_message_free (sdp);
    emit_error (&self->parent, RTCSTREAM_SIGNALLER_ERROR_PROTOCOL,
        what + " sent an answer that is not a valid SDP description");
    return;
  }

  // The resource of the session: PATCHed and DELETEd from now on.
  const char *location = soup_message_headers_get_one (headers, "Location");
  g_autofree char *base = g_uri_to_string (soup_message_get_uri (msg));
  st->resource = whip::resolve_location (base, location ? location : "");
  if (st->resource.empty ()) {
    GST_WARNING_OBJECT (self, "%s sent no usable Location (%s): the session can neither be "
        "trickled to nor deleted", st->endpoint.c_str (), location ? location : "none");
  }
  const char *etag = soup_message_headers_get_one (headers, "ETag");
  st->etag = etag ? etag : "";

  std::vector<std::string> links;
  if (const char *l = soup_message_headers_get_list (headers, "Link"))
    links.emplace_back (l);
  {
    std::lock_guard<std::mutex> lk (st->lock);
    st->resource_url = st->resource;
  }
  g_object_notify (G_OBJECT (self), "resource-url");
  rtcstream::signaller_set_ice_servers (&self->parent, "endpoint",
      rtcstream::parse_ice_server_links (links));

  GST_INFO_OBJECT (self, "session %s answered, resource %s", st->session_id.c_str (),
      st->resource.c_str ());
  GstWebRTCSessionDescription *answer =
      gst_webrtc_session_description_new (GST_WEBRTC_SDP_TYPE_ANSWER, sdp);
  rtcstream_signaller_emit_session_description (as_iface (self), st->session_id.c_str (),
      answer);
  gst_webrtc_session_description_free (answer);
  if (st->phase == Phase::Started)
    flush_trickle (self);
}

// Worker: POSTs the offer (with the candidates gathered so far in full mode).
void
post_offer (RtcstreamWhipSignaller *self)
{
  State *st = self->state;
  if (st->posted || !st->offer)
    return;
  st->posted = true;
  rtcstream::cancel_timer (&self->parent, st->gather_timer);
  GstSDPMessage *copy = nullptr;
  gst_sdp_message_copy (st->offer.get (), &copy);
  if (st->mode == RTCSTREAM_WHIP_ICE_MODE_FULL) {
    whip::add_candidates (copy, st->candidates, st->gathering_done);
    st->candidates.clear ();
    st->end_sent = true;  // nothing is trickled in full mode
  }
  g_autofree char *text = gst_sdp_message_as_text (copy);
  gst_sdp_message_free (copy);
  GST_LOG_OBJECT (self, "offer:\n%s", text);
  SoupMessage *msg = new_request (self, "POST", st->endpoint);
  set_body (msg, "application/sdp", text);
  send_request (self, msg, on_post_reply);
}

// Worker: sends the candidates not sent yet in one PATCH, when the resource
// is known and no PATCH is under way (keeping them in order).
void
flush_trickle (RtcstreamWhipSignaller *self)
{
  State *st = self->state;
  if (st->mode != RTCSTREAM_WHIP_ICE_MODE_TRICKLE || st->trickle_off || st->resource.empty () ||
      st->patch_in_flight || st->end_sent)
    return;
  if (st->candidates.empty () && !st->gathering_done)
    return;
  std::vector<whip::Candidate> batch;
  batch.swap (st->candidates);
  bool end = st->gathering_done;
  std::string frag = whip::make_sdpfrag (st->offer.get (), batch, end);
  SoupMessage *msg = new_request (self, "PATCH", st->resource);
  if (!msg) {
    st->trickle_off = true;
    return;
  }
  if (!st->etag.empty ())
    soup_message_headers_replace (soup_message_get_request_headers (msg), "If-Match",
        st->etag.c_str ());
  set_body (msg, "application/trickle-ice-sdpfrag", frag);
  st->patch_in_flight = true;
  st->end_sent = end;
  GST_DEBUG_OBJECT (self, "trickling %zu candidates%s", batch.size (), end ? " (last)" : "");
  send_request (self, msg, [] (RtcstreamWhipSignaller *self, SoupMessage *msg, GBytes *body,
      GError *err) {
    State *st = self->state;
    st->patch_in_flight = false;
    guint status = err ? 0 : soup_message_get_status (msg);
    if (status == SOUP_STATUS_METHOD_NOT_ALLOWED || status == SOUP_STATUS_NOT_IMPLEMENTED) {
      // The endpoint does not take trickled candidates: its own candidates
      // in the answer (and peer-reflexive ones) must do.
      GST_INFO_OBJECT (self, "endpoint does not support trickle ICE (%u): stop trickling",
          status);
      st->trickle_off = true;
      st->candidates.clear ();
      return;
    }
    if (err || !SOUP_STATUS_IS_SUCCESSFUL (status)) {
      // Not fatal: ICE may still succeed with the endpoint's candidates.
      GST_WARNING_OBJECT (self, "PATCH of candidates failed: %s",
          err ? err->message : describe_status (msg, body).c_str ());
    } else if (status == SOUP_STATUS_OK && body && g_bytes_get_size (body) <= kMaxReplyBytes) {
      // The endpoint may trickle its own candidates back in the reply.
      std::vector<whip::Candidate> remote;
      std::string error;
      if (!whip::parse_sdpfrag (body_text (body), whip::sdpfrag_media (st->offer.get ()), remote,
              error))
        GST_WARNING_OBJECT (self, "ignoring the candidates of the PATCH answer: %s",
            error.c_str ());
      for (const whip::Candidate &c : remote)
        rtcstream_signaller_emit_handle_ice (as_iface (self), st->session_id.c_str (), c.first,
            c.second.c_str ());
    }
    flush_trickle (self);
  });
}

// The base's vfuncs, all on the worker thread.

void
whip_start (RtcstreamBaseSignaller *base_self)
{
  auto *self = RTCSTREAM_WHIP_SIGNALLER (base_self);
  State *st = self->state;
  const RtcstreamRole role = rtcstream_base_signaller_get_role (base_self);
  const rtcstream::SignallerSettings shared = rtcstream::signaller_settings (base_self);
  gint timeout_ms;
  {
    std::lock_guard<std::mutex> lk (st->lock);
    st->endpoint = st->url;
    st->token = shared.auth_token;
    st->mode = st->ice_mode;
    timeout_ms = st->timeout_ms;
    st->resource_url.clear ();
  }
  rtcstream::signaller_set_ice_servers (base_self, "endpoint", {});
  st->phase = Phase::Started;
  st->session_id.clear ();
  st->offer.reset ();
  st->posted = st->gathering_done = st->end_sent = st->trickle_off = false;
  st->patch_in_flight = false;
  st->resource.clear ();
  st->etag.clear ();
  st->candidates.clear ();
  st->gather_timeout_ms = timeout_ms > 0 ? (guint) timeout_ms : 0;

  const char *proto = role == RTCSTREAM_ROLE_PRODUCER ? "WHIP" : "WHEP";
  g_autoptr (GUri) uri = g_uri_parse (st->endpoint.c_str (), G_URI_FLAGS_NONE, nullptr);
  const char *scheme = uri ? g_uri_get_scheme (uri) : nullptr;
  if (!uri || !g_uri_get_host (uri) || !*g_uri_get_host (uri) ||
      (g_strcmp0 (scheme, "http") != 0 && g_strcmp0 (scheme, "https") != 0)) {
    emit_error (base_self, RTCSTREAM_SIGNALLER_ERROR_UNREACHABLE,
        std::string ("Invalid ") + proto + " endpoint URL '" + st->endpoint +
        "': expected http://HOST:PORT/PATH or https://...");
    return;
  }
  SoupSessionOptions options;
  options.tls_ca_file = shared.tls_ca_file;
  // SoupSession's timeout is in seconds; 0 means none.
  options.timeout_s = timeout_ms <= 0 ? 0 : (guint) ((timeout_ms + 999) / 1000);
  options.max_conns_per_host = 4;
  std::string error;
  st->http = Ref<SoupSession>::adopt (make_soup_session (options, error));
  if (!st->http) {
    emit_error (base_self, RTCSTREAM_SIGNALLER_ERROR_UNREACHABLE, error);
    return;
  }
  st->cancellable = g_cancellable_new ();

  g_autofree char *sid = g_uuid_string_random ();
  st->session_id = sid;
  GST_INFO_OBJECT (self, "%s session %s with %s (%s ICE)", proto, sid, st->endpoint.c_str (),
      st->mode == RTCSTREAM_WHIP_ICE_MODE_TRICKLE ? "trickle" : "full");
  // Emitted from the worker's loop, after start() returned: the element
  // makes its session (and its offer) in response.
  rtcstream::post (self, [role] (RtcstreamWhipSignaller *self) {
    State *st = self->state;
    if (st->phase != Phase::Started)
      return;
    if (role == RTCSTREAM_ROLE_PRODUCER)
      rtcstream_signaller_emit_registered (as_iface (self));
    if (st->phase == Phase::Started)
      rtcstream_signaller_emit_session_requested (as_iface (self), st->session_id.c_str (),
          role == RTCSTREAM_ROLE_PRODUCER ? "whip" : "whep", nullptr);
  });
}

// Worker thread. DELETEs the resource (once), waiting a few seconds at most:
// the endpoint frees the session at once instead of at its ICE timeout.
void
delete_resource (RtcstreamWhipSignaller *self)
{
  State *st = self->state;
  if (st->resource.empty () || !st->http)
    return;
  std::string resource = std::exchange (st->resource, std::string ());
  g_autoptr (SoupMessage) msg = new_request (self, "DELETE", resource);
  if (!msg)
    return;
  g_object_set (st->http.get (), "timeout", kDeleteTimeoutS, nullptr);
  g_autoptr (GError) err = nullptr;
  g_autoptr (GBytes) body = soup_session_send_and_read (st->http.get (), msg, nullptr, &err);
  if (err)
    GST_WARNING_OBJECT (self, "DELETE %s failed: %s", resource.c_str (), err->message);
  else
    GST_INFO_OBJECT (self, "DELETE %s: %u", resource.c_str (), soup_message_get_status (msg));
}

void
whip_stop (RtcstreamBaseSignaller *base_self)
{
  auto *self = RTCSTREAM_WHIP_SIGNALLER (base_self);
  State *st = self->state;
  if (st->phase == Phase::Idle || st->phase == Phase::Stopped) {
    st->phase = Phase::Stopped;
    return;
  }
  st->phase = Phase::Stopped;
  rtcstream::cancel_timer (&self->parent, st->gather_timer);
  if (st->cancellable) {
    g_cancellable_cancel (st->cancellable);
    g_clear_object (&st->cancellable);
  }
  delete_resource (self);
  st->offer.reset ();
  st->candidates.clear ();
  st->http.reset ();
}

// One session per run: calls for another one (an earlier run's) are stale.
gboolean
whip_accepts_session (RtcstreamBaseSignaller *self, const gchar *session_id)
{
  if (session_id == RTCSTREAM_WHIP_SIGNALLER (self)->state->session_id)
    return TRUE;
  GST_DEBUG_OBJECT (self, "ignoring call for unknown session %s", session_id);
  return FALSE;
}

void
whip_send_sdp (RtcstreamBaseSignaller *base_self, const gchar *,
    const GstWebRTCSessionDescription *sdp)
{
  auto *self = RTCSTREAM_WHIP_SIGNALLER (base_self);
  State *st = self->state;
  if (sdp->type != GST_WEBRTC_SDP_TYPE_OFFER) {
    GST_WARNING_OBJECT (self, "WHIP/WHEP clients only send offers: ignoring a %s",
        gst_webrtc_sdp_type_to_string (sdp->type));
    return;
  }
  if (st->offer) {
    GST_WARNING_OBJECT (self, "renegotiation is not supported over WHIP/WHEP: ignoring "
        "a second offer");
    return;
  }
  GstSDPMessage *mine = nullptr;
  gst_sdp_message_copy (sdp->sdp, &mine);
  st->offer.reset (mine);
  if (st->mode == RTCSTREAM_WHIP_ICE_MODE_TRICKLE || st->gathering_done) {
    post_offer (self);
    return;
  }
  // Full ICE: the offer leaves when gathering ends, or when it takes too
  // long, with what was gathered by then.
  if (st->gather_timeout_ms == 0)
    return;
  st->gather_timer = rtcstream::post_delayed (self, st->gather_timeout_ms,
      [] (RtcstreamWhipSignaller *self) {
        State *st = self->state;
        st->gather_timer = 0;
        if (st->phase != Phase::Started || st->posted)
          return;
        GST_WARNING_OBJECT (self, "ICE gathering did not finish in %u ms: sending the "
            "offer with the %zu candidates found", st->gather_timeout_ms, st->candidates.size ());
        post_offer (self);
      });
}

void
whip_add_ice (RtcstreamBaseSignaller *base_self, const gchar *, guint mline,
    const gchar *candidate)
{
  auto *self = RTCSTREAM_WHIP_SIGNALLER (base_self);
  State *st = self->state;
  if (st->gathering_done || st->end_sent)
    return;
  if (!*candidate) {
    st->gathering_done = true;
    GST_DEBUG_OBJECT (self, "ICE gathering done");
  } else {
    st->candidates.emplace_back (mline, candidate);
  }
  if (st->mode == RTCSTREAM_WHIP_ICE_MODE_FULL) {
    if (st->gathering_done && st->offer)
      post_offer (self);
  } else {
    flush_trickle (self);
  }
}

// The element ended the session (e.g. EOS): DELETE the resource now,
// waiting for the reply on the worker, so a stop() right after (queued
// behind it) cannot cut the request short.
void
whip_end_session (RtcstreamBaseSignaller *self, const gchar *)
{
  delete_resource (RTCSTREAM_WHIP_SIGNALLER (self));
}

}  // namespace

static void
rtcstream_whip_signaller_init (RtcstreamWhipSignaller *self)
{
  self->state = rtcstream::make_signaller_state<State> (&self->parent);
}

static std::string
string_or_empty (const GValue *value)
{
  const char *s = g_value_get_string (value);
  return s ? s : "";
}

static void
rtcstream_whip_signaller_set_property (GObject *object, guint prop_id, const GValue *value,
    GParamSpec *pspec)
{
  auto *self = RTCSTREAM_WHIP_SIGNALLER (object);
  State *st = self->state;
  std::lock_guard<std::mutex> lk (st->lock);
  switch (prop_id) {
    case PROP_URL:
      st->url = string_or_empty (value);
      break;
    case PROP_ICE_MODE:
      st->ice_mode = static_cast<RtcstreamWhipIceMode> (g_value_get_enum (value));
      break;
    case PROP_TIMEOUT:
      st->timeout_ms = g_value_get_int (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
}

static const char *
null_if_empty (const std::string &s)
{
  return s.empty () ? nullptr : s.c_str ();
}

static void
rtcstream_whip_signaller_get_property (GObject *object, guint prop_id, GValue *value,
    GParamSpec *pspec)
{
  auto *self = RTCSTREAM_WHIP_SIGNALLER (object);
  State *st = self->state;
  std::lock_guard<std::mutex> lk (st->lock);
  switch (prop_id) {
    case PROP_URL:
      g_value_set_string (value, null_if_empty (st->url));
      break;
    case PROP_ICE_MODE:
      g_value_set_enum (value, st->ice_mode);
      break;
    case PROP_TIMEOUT:
      g_value_set_int (value, st->timeout_ms);
      break;
    case PROP_RESOURCE_URL:
      g_value_set_string (value, null_if_empty (st->resource_url));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
  }
}

static void
rtcstream_whip_signaller_class_init (RtcstreamWhipSignallerClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  gobject_class->set_property = rtcstream_whip_signaller_set_property;
  gobject_class->get_property = rtcstream_whip_signaller_get_property;

  RtcstreamBaseSignallerClass *base_class = RTCSTREAM_BASE_SIGNALLER_CLASS (klass);
  base_class->worker_name = "rtcstream-whip";
  base_class->debug_category = rtcstream_whip_signaller_debug;
  base_class->start = whip_start;
  base_class->stop = whip_stop;
  base_class->accepts_session = whip_accepts_session;
  base_class->send_sdp = whip_send_sdp;
  base_class->add_ice = whip_add_ice;
  base_class->end_session = whip_end_session;
  // WHIP/WHEP carry audio and video only; in trickle mode the endpoint's
  // STUN/TURN servers come with the answer, before gathering starts.
  base_class->get_features = [] (RtcstreamBaseSignaller *base_self) {
    State *st = RTCSTREAM_WHIP_SIGNALLER (base_self)->state;
    std::lock_guard<std::mutex> lk (st->lock);
    int f = RTCSTREAM_SIGNALLER_FEATURE_MEDIA_ONLY |
        RTCSTREAM_SIGNALLER_FEATURE_ANNOUNCES_ICE_SERVERS;
    if (st->ice_mode == RTCSTREAM_WHIP_ICE_MODE_TRICKLE)
      f |= RTCSTREAM_SIGNALLER_FEATURE_ICE_SERVERS_IN_ANSWER;
    return static_cast<RtcstreamSignallerFeatures> (f);
  };

  const auto rw = (GParamFlags) (G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  const auto ro = (GParamFlags) (G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_property (gobject_class, PROP_URL,
      g_param_spec_string ("url", "URL",
          "The endpoint the offer is POSTed to: a WHIP endpoint when publishing, a WHEP "
          "endpoint when watching (http://HOST:PORT/PATH or https://...)",
          nullptr, rw));
  g_object_class_install_property (gobject_class, PROP_ICE_MODE,
      g_param_spec_enum ("ice-mode", "ICE mode",
          "trickle: POST the offer at once and send candidates in PATCH requests (stops "
          "when the endpoint answers 405/501); full: wait until every candidate is "
          "gathered and send them inside the offer, for endpoints that take no PATCH",
          RTCSTREAM_TYPE_WHIP_ICE_MODE, RTCSTREAM_WHIP_ICE_MODE_TRICKLE, rw));
  g_object_class_install_property (gobject_class, PROP_TIMEOUT,
      g_param_spec_int ("timeout", "Timeout",
          "Longest wait (ms) for an HTTP reply, and in full ICE mode for gathering; "
          "0 waits without limit",
          0, G_MAXINT, kDefaultTimeoutMs, rw));
  g_object_class_install_property (gobject_class, PROP_RESOURCE_URL,
      g_param_spec_string ("resource-url", "Resource URL",
          "The session's resource on the endpoint (the Location of the answer), which "
          "is DELETEd when the session ends; null before the answer",
          nullptr, ro));
}

RtcstreamWhipSignaller *
rtcstream_whip_signaller_new (const gchar *url)
{
  return RTCSTREAM_WHIP_SIGNALLER (g_object_new (RTCSTREAM_TYPE_WHIP_SIGNALLER, "url", url,
      nullptr));
}
