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
#include <cstring>
#include <map>
#include <utility>
#include <vector>

#include "ice-servers.h"
#include "rtcstream/ref.h"
#include "whip-sdp.h"
#include "whip-session.h"

namespace rtcstream::signalling {

namespace {

constexpr std::size_t kMaxNameBytes = 128;

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

void
add_cors (SoupServerMessage *msg)
{
  SoupMessageHeaders *h = soup_server_message_get_response_headers (msg);
  soup_message_headers_replace (h, "Access-Control-Allow-Origin", "*");
  soup_message_headers_replace (h, "Access-Control-Allow-Methods", "POST, PATCH, DELETE, OPTIONS");
  soup_message_headers_replace (h, "Access-Control-Allow-Headers",
      "Authorization, Content-Type, If-Match");
  soup_message_headers_replace (h, "Access-Control-Expose-Headers",
      "Location, Accept-Patch, Accept-Post, ETag");
  soup_message_headers_replace (h, "Access-Control-Max-Age", "86400");
}

// A path segment, percent-decoded; empty when it is not a usable stream
// name or resource id.
std::string
segment_value (const std::string &segment)
{
  g_autofree char *decoded = g_uri_unescape_string (segment.c_str (), "/");
  if (!decoded || !*decoded || std::strlen (decoded) > kMaxNameBytes ||
      !g_utf8_validate (decoded, -1, nullptr))
    return {};
  for (const char *c = decoded; *c; c++)
    if (static_cast<unsigned char> (*c) < 0x20 || *c == 0x7f)
      return {};
  return decoded;
}

bool
same_secret (const std::string &a, const std::string &b)
{
  if (a.size () != b.size ())
    return false;
  unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size (); i++)
    diff |= static_cast<unsigned char> (a[i] ^ b[i]);
  return diff == 0;
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
    reaper_ = g_thread_pool_new ([] (gpointer data, gpointer) {
      auto *pipeline = static_cast<GstElement *> (data);
      gst_element_set_state (pipeline, GST_STATE_NULL);
      gst_object_unref (pipeline);
    }, nullptr, 2, FALSE, nullptr);
    // With the slash, so that /whip.html stays a page of the web client.
    for (const char *prefix : { "/whip/", "/whep/" }) {
      soup_server_add_early_handler (soup, prefix, on_early, this, nullptr);
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
      g_thread_pool_free (reaper_, FALSE, TRUE);  // waits for every pipeline to stop
      reaper_ = nullptr;
    }
  }

  // HTTP -------------------------------------------------------------------

  // Refuses an oversized body from its headers, before libsoup reads it. A
  // body without Content-Length (chunked) could be of any size: refused too.
  static void on_early (SoupServer *, SoupServerMessage *msg, const char *, GHashTable *,
      gpointer user_data)
  {
    auto *self = static_cast<Service *> (user_data);
    SoupMessageHeaders *h = soup_server_message_get_request_headers (msg);
    const SoupEncoding encoding = soup_message_headers_get_encoding (h);
    guint status = 0;
    std::string reason;
    if (encoding == SOUP_ENCODING_CONTENT_LENGTH &&
        static_cast<guint64> (soup_message_headers_get_content_length (h)) >
        self->options_.max_sdp_bytes) {
      status = SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE;
      reason = "The body is larger than " + std::to_string (self->options_.max_sdp_bytes) +
          " bytes (--max-sdp-size).";
    } else if (encoding != SOUP_ENCODING_CONTENT_LENGTH && encoding != SOUP_ENCODING_NONE) {
      status = SOUP_STATUS_LENGTH_REQUIRED;
      reason = "Send the body with a Content-Length.";
    }
    if (status) {
      add_cors (msg);
      soup_message_headers_replace (soup_server_message_get_response_headers (msg),
          "Connection", "close");
      reply (msg, status, reason);
    }
  }

  static void on_request (SoupServer *, SoupServerMessage *msg, const char *path,
      GHashTable *, gpointer user_data)
  {
    static_cast<Service *> (user_data)->handle (msg, path);
  }

  void handle (SoupServerMessage *msg, const char *path)
  {
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
    std::string name = parts.size () >= 2 ? segment_value (parts[1]) : std::string ();
    std::string id = parts.size () >= 3 ? segment_value (parts[2]) : std::string ();
    if ((parts[0] != "whip" && !whep) || name.empty () || parts.size () > 3 ||
        (parts.size () == 3 && id.empty ())) {
      reply (msg, SOUP_STATUS_NOT_FOUND, "Not found: use /whip/NAME to publish and "
          "/whep/NAME to watch the stream NAME.");
      return;
    }
    if (!options_.enabled) {
      reply (msg, SOUP_STATUS_NOT_FOUND, "WHIP and WHEP are disabled on this server "
          "(--no-whip).");
      return;
    }
    const char *method = soup_server_message_get_method (msg);
    const char *allow = id.empty () ? "POST, OPTIONS" : "PATCH, DELETE, OPTIONS";
    if (method == SOUP_METHOD_OPTIONS) {
      soup_message_headers_replace (out, "Allow", allow);
      if (id.empty ())
        soup_message_headers_replace (out, "Accept-Post", "application/sdp");
      else
        soup_message_headers_replace (out, "Accept-Patch", "application/trickle-ice-sdpfrag");
      soup_server_message_set_status (msg, SOUP_STATUS_NO_CONTENT, nullptr);
      return;
    }
    const bool allowed = id.empty () ? method == SOUP_METHOD_POST
        : (method == SOUP_METHOD_DELETE || std::strcmp (method, "PATCH") == 0);
    if (!allowed) {
      soup_message_headers_replace (out, "Allow", allow);
      reply (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, std::string ("Use ") + allow + " here.");
      return;
    }
    if (!authorized (msg, whep))
      return;

    if (id.empty ()) {
      post (msg, whep, name);
      return;
    }
    auto it = resources_.find (id);
    if (it == resources_.end () || it->second->whep != whep || it->second->name != name) {
      reply (msg, SOUP_STATUS_NOT_FOUND, "No such " + std::string (whep ? "WHEP" : "WHIP") +
          " session (it ended or was deleted).");
      return;
    }
    ResourcePtr res = it->second;
    if (method == SOUP_METHOD_DELETE) {
      g_printerr ("%s session %s (%s) deleted by its client\n", whep ? "WHEP" : "WHIP",
          res->id.c_str (), res->name.c_str ());
      ended (res, SOUP_STATUS_SERVICE_UNAVAILABLE, "The session was deleted.");
      soup_server_message_set_status (msg, SOUP_STATUS_OK, nullptr);
      return;
    }
    patch (msg, res);
  }

  bool authorized (SoupServerMessage *msg, bool whep)
  {
    const std::string &token = whep ? options_.whep_token : options_.whip_token;
    if (token.empty ())
      return true;
    const char *given = soup_message_headers_get_one (
        soup_server_message_get_request_headers (msg), "Authorization");
    if (given && g_ascii_strncasecmp (given, "Bearer ", 7) == 0 &&
        same_secret (given + 7, token))
      return true;
    soup_message_headers_replace (soup_server_message_get_response_headers (msg),
        "WWW-Authenticate", "Bearer realm=\"rtcstream\"");
    reply (msg, SOUP_STATUS_UNAUTHORIZED, given
        ? "The bearer token is wrong."
        : "This endpoint needs an \"Authorization: Bearer TOKEN\" header.");
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
    res->id = uuid;
    res->id.erase (std::remove (res->id.begin (), res->id.end (), '-'), res->id.end ());
    res->name = name;
    res->whep = whep;
    res->offer_text = res->offer.credentials_unified ? res->offer.unified_text : text;
    res->location = std::string (whep ? "/whep/" : "/whip/") + escaped (name) + "/" + res->id;
    if (options_.ice_servers)
      res->ice_servers = options_.ice_servers (res->id);
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
        res->id.c_str (), name.c_str ());
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
        res->name.c_str (), reason.c_str ());
    if (res->pending) {
      Ref<SoupServerMessage> msg = std::move (res->pending);
      if (status)
        reply (msg.get (), status, reason);
      soup_server_message_unpause (msg.get ());
    }
    if (res->timeout)
      g_source_remove (res->timeout);
    res->timeout = 0;
    if (GstElement *pipeline = whip_session_release (*res)) {
      if (reaper_)
        g_thread_pool_push (reaper_, pipeline, nullptr);
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

}  // namespace rtcstream::signalling
