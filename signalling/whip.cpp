// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The HTTP side of the WHIP/WHEP endpoints: routing, tokens, body checks,
// the session map, and the replies; the media of each session is in
// whip-session.cpp. Everything here runs on the server's GMainContext.
// Pipelines are stopped on a separate thread (the reaper), so a slow
// teardown never stalls the HTTP server.
#include "whip.h"

#include <gst/gst.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <map>
#include <utility>
#include <vector>

#include "hub.h"
#include "ice-servers.h"
#include "rtcstream/ref.h"
#include "whip-sdp.h"
#include "whip-session.h"

namespace rtcstream::signalling {

namespace {

// File descriptors a new session may need (its sockets, its elements' main
// contexts and threads, with a margin): below that many free, POST gets 503.
constexpr std::size_t kSessionFds = 96;

using ResourcePtr = WhipSessionPtr;  // a session is a WHIP/WHEP "resource"

void
reply (SoupServerMessage *msg, guint status, const std::string &text)
{
  soup_server_message_set_status (msg, status, nullptr);
  if (!text.empty ()) {
    const std::string body = text + "\n";
    soup_server_message_set_response (msg, "text/plain; charset=utf-8", SOUP_MEMORY_COPY,
        body.data (), body.size ());
  }
}

// A path segment, percent-decoded once (the server keeps raw paths, so
// "%252e" is "%2e" here, never "."); nothing when it does not decode.
std::optional<std::string>
decoded_segment (const std::string &segment)
{
  g_autofree char *decoded = g_uri_unescape_string (segment.c_str (), nullptr);
  if (!decoded)
    return std::nullopt;
  return std::string (decoded);
}

// A session id as we make them: 32 lowercase hex digits.
bool
valid_id (const std::string &id)
{
  if (id.empty () || id.size () > 64)
    return false;
  for (char c : id)
    if (!g_ascii_isxdigit (c))
      return false;
  return true;
}

// The CORS headers of every reply under /whip/ and /whep/ but the origin,
// which is the request's (when allowed) with "Vary: Origin".
const std::vector<std::pair<std::string, std::string>> &
cors_headers ()
{
  static const std::vector<std::pair<std::string, std::string>> h = {
    { "Access-Control-Allow-Methods", "POST, PATCH, DELETE, OPTIONS" },
    { "Access-Control-Allow-Headers", "Authorization, Content-Type, If-Match" },
    { "Access-Control-Expose-Headers", "Location, Accept-Patch, Accept-Post, ETag" },
    { "Access-Control-Max-Age", "86400" },
    { "Vary", "Origin" },
  };
  return h;
}

const char *
origin_of (SoupServerMessage *msg)
{
  return soup_message_headers_get_one (soup_server_message_get_request_headers (msg), "Origin");
}

void
add_cors (SoupServerMessage *msg)
{
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);
  for (const auto &[name, value] : cors_headers ())
    soup_message_headers_replace (h, name.c_str (), value.c_str ());
  const char *origin = origin_of (msg);
  soup_message_headers_replace (h, "Access-Control-Allow-Origin", origin ? origin : "*");
}

// The stream name of a /whip/NAME[/ID] path, decoded once; empty when there
// is none (the handler answers those).
std::string
name_in_path (const char *path)
{
  g_auto (GStrv) split = g_strsplit (path + 1, "/", 4);
  if (!split[0] || !split[1])
    return {};
  g_autofree char *decoded = g_uri_unescape_string (split[1], nullptr);
  return decoded ? decoded : "";
}

bool
have_factory (const char *name)
{
  GstElementFactory *f = gst_element_factory_find (name);
  if (!f)
    return false;
  gst_object_unref (f);
  return true;
}

std::string
escaped (const std::string &name)
{
  g_autofree char *e = g_uri_escape_string (name.c_str (), nullptr, FALSE);
  return e;
}

class Service final : public WhipSessionOwner {
public:
  Service (WhipOptions options, WhipEndpoints::StreamExists exists)
      : options_ (std::move (options)), exists_ (std::move (exists))
  {
  }

  ~Service () { stop (); }

  GMainContext *context () const override { return context_; }

  void attach (SoupServer *soup, const std::string &local_uri, const std::string &ca_file)
  {
    local_uri_ = local_uri;
    ca_file_ = ca_file;
    context_ = g_main_context_get_thread_default ();
    if (!context_)
      context_ = g_main_context_default ();
    reaper_ = g_thread_pool_new ([] (gpointer data, gpointer user) {
      auto *pipeline = static_cast<GstElement *> (data);
      gst_element_set_state (pipeline, GST_STATE_NULL);
      gst_object_unref (pipeline);
      static_cast<std::atomic<int> *> (user)->fetch_sub (1);
    }, &reaping_, 2, FALSE, nullptr);
    // With the slash, so that /whip.html stays a page of the web client.
    for (const char *prefix : { "/whip/", "/whep/" }) {
      soup_server_add_handler (soup, prefix, on_request, this, nullptr);
    }
  }

  void stop ()
  {
    std::vector<ResourcePtr> all;
    for (auto &[id, res] : resources_)
      all.push_back (res);
    for (const ResourcePtr &res : all)
      ended (res, SOUP_STATUS_SERVICE_UNAVAILABLE, "The server is shutting down.");
    if (reaper_) {
      // Waits for every pipeline to stop, for a while: a pipeline whose
      // teardown hangs (seen, rarely, inside webrtcbin's state change) must
      // not keep the server from exiting.
      const gint64 deadline = g_get_monotonic_time () + kReapTimeoutUs;
      while (reaping_ > 0 && g_get_monotonic_time () < deadline)
        g_usleep (10000);
      if (reaping_ > 0) {
        g_printerr ("rtcstream-signalling: %d WHIP/WHEP pipeline(s) did not stop within %d s; "
                    "exiting without them\n", reaping_.load (), (int) (kReapTimeoutUs / 1000000));
        g_thread_pool_free (reaper_, TRUE, FALSE);
      } else {
        g_thread_pool_free (reaper_, FALSE, TRUE);
      }
      reaper_ = nullptr;
    }
  }

  // HTTP -------------------------------------------------------------------

  // Refusals made from the headers, before libsoup reads the body (see
  // WhipEndpoints::check_headers): the token first, then the body's size.
  std::optional<EarlyReply> check_headers (SoupServerMessage *msg)
  {
    const char *path = g_uri_get_path (soup_server_message_get_uri (msg));
    const bool whep = g_str_has_prefix (path, "/whep/");
    const char *method = soup_server_message_get_method (msg);
    if (!options_.enabled || (!whep && !g_str_has_prefix (path, "/whip/")))
      return std::nullopt;
    // Other methods get 405 from the handler, OPTIONS needs no token.
    const bool needs_token = method == SOUP_METHOD_POST || method == SOUP_METHOD_DELETE ||
        std::strcmp (method, "PATCH") == 0;
    std::optional<EarlyReply> reply = origin_problem (msg);
    if (!reply && needs_token)
      reply = auth_problem (msg, whep, name_in_path (path));
    SoupMessageHeaders *h = soup_server_message_get_request_headers (msg);
    const SoupEncoding encoding = soup_message_headers_get_encoding (h);
    if (reply) {
    } else if (encoding == SOUP_ENCODING_CONTENT_LENGTH &&
        static_cast<guint64> (soup_message_headers_get_content_length (h)) >
        options_.max_sdp_bytes) {
      reply = EarlyReply{ SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "The body is larger than " +
          std::to_string (options_.max_sdp_bytes) + " bytes (--max-sdp-size).", {} };
    } else if (encoding != SOUP_ENCODING_CONTENT_LENGTH && encoding != SOUP_ENCODING_NONE) {
      reply = EarlyReply{ SOUP_STATUS_LENGTH_REQUIRED, "Send the body with a Content-Length.",
        {} };
    }
    if (reply) {
      reply->headers.insert (reply->headers.end (), cors_headers ().begin (),
          cors_headers ().end ());
      const char *origin = origin_of (msg);
      if (options_.origins.allows (origin, host_of (msg)))
        reply->headers.emplace_back ("Access-Control-Allow-Origin", origin ? origin : "*");
    }
    return reply;
  }

  static void on_request (SoupServer *, SoupServerMessage *msg, const char *path,
      GHashTable *, gpointer user_data)
  {
    static_cast<Service *> (user_data)->handle (msg, path);
  }

  void handle (SoupServerMessage *msg, const char *path)
  {
    if (std::optional<EarlyReply> refused = origin_problem (msg)) {
      reply (msg, refused->status, refused->text);
      return;
    }
    add_cors (msg);
    SoupMessageHeaders *out = soup_server_message_get_response_headers (msg);
    // /whip/NAME or /whip/NAME/ID
    std::vector<std::string> parts;
    {
      g_auto (GStrv) split = g_strsplit (path + 1, "/", 4);
      for (char **p = split; *p; p++)
        parts.emplace_back (*p);
    }
    const bool whep = parts[0] == "whep";
    std::optional<std::string> name = parts.size () >= 2 ? decoded_segment (parts[1])
        : std::nullopt;
    std::optional<std::string> id = parts.size () >= 3 ? decoded_segment (parts[2])
        : std::optional<std::string> (std::string ());
    if ((parts[0] != "whip" && !whep) || !name || name->empty () || parts.size () > 3 ||
        !id || (parts.size () == 3 && !valid_id (*id))) {
      reply (msg, SOUP_STATUS_NOT_FOUND, "Not found: use /whip/NAME to publish and "
          "/whep/NAME to watch the stream NAME.");
      return;
    }
    if (const std::string problem = stream_name_problem (*name); !problem.empty ()) {
      reply (msg, SOUP_STATUS_BAD_REQUEST, problem);
      return;
    }
    if (!options_.enabled) {
      reply (msg, SOUP_STATUS_NOT_FOUND, "WHIP and WHEP are disabled on this server "
          "(--no-whip).");
      return;
    }
    const char *method = soup_server_message_get_method (msg);
    const std::string &stream = *name;
    const std::string &session = *id;
    const char *allow = session.empty () ? "POST, OPTIONS" : "PATCH, DELETE, OPTIONS";
    if (method == SOUP_METHOD_OPTIONS) {
      soup_message_headers_replace (out, "Allow", allow);
      if (session.empty ())
        soup_message_headers_replace (out, "Accept-Post", "application/sdp");
      else
        soup_message_headers_replace (out, "Accept-Patch", "application/trickle-ice-sdpfrag");
      soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, nullptr);
      return;
    }
    const bool allowed = session.empty () ? method == SOUP_METHOD_POST
        : (method == SOUP_METHOD_DELETE || std::strcmp (method, "PATCH") == 0);
    if (!allowed) {
      soup_message_headers_replace (out, "Allow", allow);
      reply (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, std::string ("Use ") + allow + " here.");
      return;
    }
    if (!authorized (msg, whep, stream))
      return;

    if (session.empty ()) {
      post (msg, whep, stream);
      return;
    }
    auto it = resources_.find (session);
    if (it == resources_.end () || it->second->whep != whep || it->second->name != stream) {
      reply (msg, SOUP_STATUS_NOT_FOUND, "No such " + std::string (whep ? "WHEP" : "WHIP") +
          " session (it ended or was deleted).");
      return;
    }
    ResourcePtr res = it->second;
    if (method == SOUP_METHOD_DELETE) {
      g_printerr ("%s session %s (%s) deleted by its client\n", whep ? "WHEP" : "WHIP",
          res->id.c_str (), log_safe (res->name).c_str ());
      ended (res, SOUP_STATUS_SERVICE_UNAVAILABLE, "The session was deleted.");
      soup_server_message_set_status (msg, SOUP_STATUS_OK, nullptr);
      return;
    }
    patch (msg, res);
  }

  static const char *host_of (SoupServerMessage *msg)
  {
    return soup_message_headers_get_one (soup_server_message_get_request_headers (msg), "Host");
  }

  // A 403 for a page whose origin may not use the endpoints (--allowed-origin).
  std::optional<EarlyReply> origin_problem (SoupServerMessage *msg)
  {
    const char *origin = origin_of (msg);
    if (options_.origins.allows (origin, host_of (msg)))
      return std::nullopt;
    return EarlyReply{ SOUP_STATUS_FORBIDDEN, "Pages from " + log_safe (origin) + " may not "
        "use this server; start it with --allowed-origin for that origin.", {} };
  }

  // A 401 when the endpoint needs a token and the request has none or an
  // invalid one, a 403 when its token does not allow this (publish NAME on
  // /whip/, watch NAME on /whep/).
  std::optional<EarlyReply> auth_problem (SoupServerMessage *msg, bool whep,
      const std::string &name)
  {
    if (!options_.auth)
      return std::nullopt;
    const Action action = whep ? Action::Watch : Action::Publish;
    if (!options_.auth->required (action))
      return std::nullopt;
    const char *given = soup_message_headers_get_one (
        soup_server_message_get_request_headers (msg), "Authorization");
    const std::int64_t now = g_get_real_time () / G_USEC_PER_SEC;
    const std::optional<std::string> token = bearer_token (given);
    Authorizer::Result who = options_.auth->authenticate (token, now);
    std::string problem = who.problem;
    Access::Verdict verdict = Access::Verdict::Allowed;
    if (who.ok) {
      verdict = who.access.check (action, name, now);
      if (verdict == Access::Verdict::Allowed)
        return std::nullopt;
      problem = verdict == Access::Verdict::NoToken ? std::string ("This endpoint needs an "
          "\"Authorization: Bearer TOKEN\" header.") : Access::explain (verdict, action, name);
    }
    const bool forbidden = verdict == Access::Verdict::WrongScope;
    g_printerr ("%s %s of \"%s\" refused (%d): %s\n", whep ? "WHEP" : "WHIP",
        soup_server_message_get_method (msg), log_safe (name).c_str (),
        forbidden ? SOUP_STATUS_FORBIDDEN : SOUP_STATUS_UNAUTHORIZED, problem.c_str ());
    std::string challenge = "Bearer realm=\"rtcstream\"";
    if (forbidden)
      challenge += ", error=\"insufficient_scope\"";
    else if (token)
      challenge += ", error=\"invalid_token\"";
    return EarlyReply{ forbidden ? SOUP_STATUS_FORBIDDEN : SOUP_STATUS_UNAUTHORIZED, problem,
      { { "WWW-Authenticate", challenge } } };
  }

  bool authorized (SoupServerMessage *msg, bool whep, const std::string &name)
  {
    std::optional<EarlyReply> problem = auth_problem (msg, whep, name);
    if (!problem)
      return true;
    for (const auto &[name, value] : problem->headers)
      soup_message_headers_replace (soup_server_message_get_response_headers (msg),
          name.c_str (), value.c_str ());
    reply (msg, problem->status, problem->text);
    return false;
  }

  // The request body, or nothing after replying 415 or 413.
  bool body_of (SoupServerMessage *msg, const char *type, std::string &body)
  {
    const char *given = soup_message_headers_get_content_type (
        soup_server_message_get_request_headers (msg), nullptr);
    if (!given || g_ascii_strcasecmp (given, type) != 0) {
      reply (msg, SOUP_STATUS_UNSUPPORTED_MEDIA_TYPE, std::string ("Send the body as "
          "Content-Type: ") + type + " (got " + (given ? given : "none") + ").");
      return false;
    }
    g_autoptr (GBytes) bytes = soup_message_body_flatten (
        soup_server_message_get_request_body (msg));
    gsize size = 0;
    const auto *data = static_cast<const char *> (g_bytes_get_data (bytes, &size));
    if (size > options_.max_sdp_bytes) {
      reply (msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "The body is larger than " +
          std::to_string (options_.max_sdp_bytes) + " bytes (--max-sdp-size).");
      return false;
    }
    body.assign (data ? data : "", size);
    return true;
  }

  void post (SoupServerMessage *msg, bool whep, const std::string &name)
  {
    std::string text;
    if (!body_of (msg, "application/sdp", text))
      return;
    auto res = std::make_shared<WhipSession> ();
    std::string error;
    if (!analyse_offer (text, whep ? OfferKind::Play : OfferKind::Publish, res->offer, error)) {
      reply (msg, SOUP_STATUS_BAD_REQUEST, error);
      return;
    }
    if (whep && !exists_ (name)) {
      reply (msg, SOUP_STATUS_NOT_FOUND, "No stream named \"" + name + "\" is being "
          "published here.");
      return;
    }
    if (!whep) {
      bool taken = exists_ (name);
      for (auto &[id, other] : resources_)
        taken = taken || (!other->whep && other->name == name);
      if (taken) {
        reply (msg, SOUP_STATUS_CONFLICT, "The stream name \"" + name + "\" is already "
            "published; choose another name or end the other publisher.");
        return;
      }
    }
    const char *ip = soup_server_message_get_remote_host (msg);
    const std::string client_ip = ip ? ip : "";
    std::size_t from_ip = 0;
    for (auto &[id, other] : resources_)
      from_ip += other->client_ip == client_ip;
    if (resources_.size () >= options_.max_sessions) {
      reply (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "The server has " +
          std::to_string (resources_.size ()) + " WHIP/WHEP sessions, its most "
          "(--max-whip-sessions); try again later.");
      return;
    }
    if (from_ip >= options_.max_sessions_per_ip) {
      reply (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "Your address has " +
          std::to_string (from_ip) + " WHIP/WHEP sessions, its most "
          "(--max-whip-sessions-per-ip); end one first.");
      return;
    }
    if (free_file_descriptors () < kSessionFds) {
      g_printerr ("refused a %s session: the server is short of file descriptors\n",
          whep ? "WHEP" : "WHIP");
      reply (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, "The server is short of file descriptors "
          "(ulimit -n); try again later.");
      return;
    }
    for (const char *factory : { "webrtcbin", whep ? "rtcstreamsrc" : "rtcstreamsink" }) {
      if (!have_factory (factory)) {
        reply (msg, SOUP_STATUS_SERVICE_UNAVAILABLE, std::string ("The GStreamer element ") +
            factory + " is not installed on the server; install the rtcstream plugin and "
            "gstreamer1.0-plugins-bad, or set GST_PLUGIN_PATH.");
        return;
      }
    }

    g_autofree char *uuid = g_uuid_string_random ();
    res->owner = this;
    res->local_uri = local_uri_;
    res->tls_ca_file = ca_file_;
    if (options_.auth)
      res->auth_token = options_.auth->internal_token ();
    res->id = uuid;
    res->id.erase (std::remove (res->id.begin (), res->id.end (), '-'), res->id.end ());
    res->name = name;
    res->client_ip = client_ip;
    res->whep = whep;
    res->offer_text = res->offer.credentials_unified ? res->offer.unified_text : text;
    res->location = std::string (whep ? "/whep/" : "/whip/") + escaped (name) + "/" + res->id;
    if (options_.ice_servers)
      res->ice_servers = options_.ice_servers (res->id);
    res->relay_only = options_.relay_only;
    resources_[res->id] = res;

    if (guint status = whip_session_start (res, error)) {
      reply (msg, status, error);
      ended (res, 0, error);
      return;
    }
    res->pending = Ref<SoupServerMessage>::take_ref (msg);
    soup_server_message_pause (msg);
    g_signal_connect_data (msg, "finished", G_CALLBACK (+[] (SoupServerMessage *m,
        gpointer data) {
      ResourcePtr r = whip_session_held (data);
      if (r->alive && r->pending.get () == m) {
        r->pending.reset ();
        static_cast<Service *> (r->owner)->ended (r, 0, "The client went away before the answer.");
      }
    }), whip_session_hold (res), [] (gpointer data, GClosure *) { whip_session_drop (data); },
        static_cast<GConnectFlags> (0));
    res->timeout = g_timeout_add_seconds_full (G_PRIORITY_DEFAULT, options_.answer_timeout_s,
        [] (gpointer data) -> gboolean {
          ResourcePtr r = whip_session_held (data);
          r->timeout = 0;
          r->owner->ended (r, SOUP_STATUS_GATEWAY_TIMEOUT, r->whep
              ? "The stream did not start in time; is its producer sending?"
              : "No answer could be made in time.");
          return G_SOURCE_REMOVE;
        }, whip_session_hold (res), whip_session_drop);
    g_printerr ("%s session %s for \"%s\" started\n", whep ? "WHEP" : "WHIP",
        res->id.c_str (), log_safe (name).c_str ());
  }

  void patch (SoupServerMessage *msg, const ResourcePtr &res)
  {
    std::string body, error;
    if (!body_of (msg, "application/trickle-ice-sdpfrag", body))
      return;
    std::vector<whip::Candidate> cands;
    if (!whip::parse_sdpfrag (body, sdpfrag_media (res->offer), cands, error)) {
      reply (msg, SOUP_STATUS_BAD_REQUEST, error);
      return;
    }
    whip_session_add_candidates (res, std::move (cands));
    soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, nullptr);
  }

  // Media ------------------------------------------------------------------

  // The answer is ready: 201 with the session URL.
  void answered (const ResourcePtr &res, const std::string &text) override
  {
    if (!res->pending)
      return;
    SoupServerMessage *msg = res->pending.get ();
    SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);
    soup_message_headers_replace (h, "Location", res->location.c_str ());
    soup_message_headers_replace (h, "ETag", ("\"" + res->id + "\"").c_str ());
    soup_message_headers_replace (h, "Accept-Patch", "application/trickle-ice-sdpfrag");
    for (const std::string &link : link_header_values (res->ice_servers))
      soup_message_headers_append (h, "Link", link.c_str ());
    soup_server_message_set_status (msg, SOUP_STATUS_CREATED, nullptr);
    soup_server_message_set_response (msg, "application/sdp", SOUP_MEMORY_COPY, text.data (),
        text.size ());
    Ref<SoupServerMessage> done = std::move (res->pending);
    if (res->timeout) {
      g_source_remove (res->timeout);
      res->timeout = 0;
    }
    // A client that never connects (no candidates, gone after the 201) must
    // not hold the name and the pipeline forever.
    if (!res->connected && options_.connect_timeout_s > 0) {
      res->connect_timer = g_timeout_add_seconds_full (G_PRIORITY_DEFAULT,
          options_.connect_timeout_s, [] (gpointer data) -> gboolean {
            ResourcePtr r = whip_session_held (data);
            r->connect_timer = 0;
            if (!r->connected)
              r->owner->ended (r, 0, "the client did not connect within the "
                  "--whip-connect-timeout");
            return G_SOURCE_REMOVE;
          }, whip_session_hold (res), whip_session_drop);
    }
    soup_server_message_unpause (done.get ());
  }

  // Ends a session. A POST still waiting gets `status` (none: no reply).
  void ended (const ResourcePtr &res, guint status, const std::string &reason) override
  {
    if (!res->alive)
      return;
    res->alive = false;
    resources_.erase (res->id);
    g_printerr ("%s session %s (%s) ended: %s\n", res->whep ? "WHEP" : "WHIP", res->id.c_str (),
        log_safe (res->name).c_str (), reason.c_str ());
    if (res->pending) {
      Ref<SoupServerMessage> msg = std::move (res->pending);
      if (status)
        reply (msg.get (), status, reason);
      soup_server_message_unpause (msg.get ());
    }
    if (res->timeout)
      g_source_remove (res->timeout);
    res->timeout = 0;
    if (res->connect_timer)
      g_source_remove (res->connect_timer);
    res->connect_timer = 0;
    if (GstElement *pipeline = whip_session_release (*res)) {
      if (reaper_) {
        reaping_++;
        g_thread_pool_push (reaper_, pipeline, nullptr);
      }
      else {
        gst_element_set_state (pipeline, GST_STATE_NULL);
        gst_object_unref (pipeline);
      }
    }
  }

private:
  WhipOptions options_;
  WhipEndpoints::StreamExists exists_;
  std::string local_uri_;
  std::string ca_file_;
  GMainContext *context_ = nullptr;
  std::map<std::string, ResourcePtr> resources_;  // by id
  GThreadPool *reaper_ = nullptr;
  std::atomic<int> reaping_{0};  // pipelines pushed to the reaper, not stopped yet
  static constexpr gint64 kReapTimeoutUs = 5000000;
};

}  // namespace

struct WhipEndpoints::Impl {
  Service service;
  Impl (WhipOptions options, StreamExists exists)
      : service (std::move (options), std::move (exists)) {}
};

WhipEndpoints::WhipEndpoints (WhipOptions options, StreamExists exists)
    : impl_ (std::make_unique<Impl> (std::move (options), std::move (exists)))
{
}

WhipEndpoints::~WhipEndpoints () = default;

void
WhipEndpoints::attach (SoupServer *soup, const std::string &local_uri,
    const std::string &tls_ca_file)
{
  impl_->service.attach (soup, local_uri, tls_ca_file);
}

void
WhipEndpoints::stop ()
{
  impl_->service.stop ();
}

std::optional<EarlyReply>
WhipEndpoints::check_headers (SoupServerMessage *msg)
{
  return impl_->service.check_headers (msg);
}

}  // namespace rtcstream::signalling
