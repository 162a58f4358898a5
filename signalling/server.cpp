// SPDX-License-Identifier: LGPL-2.1-or-later
#include "server.h"

#include <sys/stat.h>

#include <cstdlib>
#include <cstring>
#include <optional>
#include <utility>

extern "C" {
#include "rtcstream-web-resources.h"  // the embedded web/ directory
}

namespace rtcstream::signalling {

namespace {

// Frames a little over the message limit still reach the hub, which answers
// "too-large" and keeps the connection; far larger ones make libsoup close
// the connection (code 1009) without buffering them.
constexpr guint64 kPayloadSlack = 64 * 1024;

// Files of the web client larger than this are not served.
constexpr goffset kMaxFileBytes = 64 * 1024 * 1024;

constexpr char kResourcePrefix[] = "/org/rtcstream/web/";

// The request path made relative to the web root ("/" is "index.html", a
// trailing "/" names the index.html of that directory), or nothing when it
// could name anything outside the root or anything hidden: a "..", "." or
// other dot segment, an empty segment, a backslash, an encoded "/" or NUL.
std::optional<std::string>
relative_path (const char *path)
{
  g_autofree char *decoded = g_uri_unescape_string (path, "/");
  if (!decoded || decoded[0] != '/')
    return std::nullopt;
  std::string rel = decoded + 1;
  if (rel.empty () || rel.back () == '/')
    rel += "index.html";
  if (rel.find ('\\') != std::string::npos)
    return std::nullopt;
  for (std::size_t start = 0;;) {
    const std::size_t end = rel.find ('/', start);
    const std::string segment = rel.substr (start, end == std::string::npos ? end : end - start);
    if (segment.empty () || segment[0] == '.')
      return std::nullopt;
    if (end == std::string::npos)
      break;
    start = end + 1;
  }
  return rel;
}

const char *
content_type (const std::string &rel)
{
  static const struct {
    const char *suffix;
    const char *type;
  } types[] = {
    { ".html", "text/html; charset=utf-8" },
    { ".js", "text/javascript; charset=utf-8" },
    { ".mjs", "text/javascript; charset=utf-8" },
    { ".css", "text/css; charset=utf-8" },
    { ".json", "application/json" },
    { ".txt", "text/plain; charset=utf-8" },
    { ".svg", "image/svg+xml" },
    { ".png", "image/png" },
    { ".jpg", "image/jpeg" },
    { ".ico", "image/x-icon" },
    { ".wasm", "application/wasm" },
  };
  for (const auto &t : types) {
    const std::size_t n = std::strlen (t.suffix);
    if (rel.size () > n && g_ascii_strcasecmp (rel.c_str () + rel.size () - n, t.suffix) == 0)
      return t.type;
  }
  return "application/octet-stream";
}

GBytes *
embedded_file (const std::string &rel)
{
  const std::string name = kResourcePrefix + rel;
  return g_resource_lookup_data (rtcstream_web_get_resource (), name.c_str (),
      G_RESOURCE_LOOKUP_FLAGS_NONE, nullptr);
}

// A regular file under `root`, after resolving symbolic links: a link that
// leads out of the root is not followed.
GBytes *
file_in_root (const std::string &root, const std::string &rel)
{
  g_autofree char *real_root = realpath (root.c_str (), nullptr);
  if (!real_root)
    return nullptr;
  std::string inside = real_root;
  if (inside.back () != '/')
    inside += '/';
  const std::string wanted = inside + rel;
  g_autofree char *real = realpath (wanted.c_str (), nullptr);
  if (!real || std::strncmp (real, inside.c_str (), inside.size ()) != 0)
    return nullptr;
  struct stat st;
  if (stat (real, &st) != 0 || !S_ISREG (st.st_mode) || st.st_size > kMaxFileBytes)
    return nullptr;
  char *contents = nullptr;
  gsize size = 0;
  if (!g_file_get_contents (real, &contents, &size, nullptr))
    return nullptr;
  return g_bytes_new_take (contents, size);
}

void
not_found (SoupServerMessage *msg)
{
  soup_server_message_set_status (msg, SOUP_STATUS_NOT_FOUND, nullptr);
  soup_server_message_set_response (msg, "text/plain", SOUP_MEMORY_STATIC, "not found\n", 10);
}

std::string
remote_of (SoupServerMessage *msg)
{
  const char *host = soup_server_message_get_remote_host (msg);
  std::string remote = host ? host : "unknown";
  GSocketAddress *addr = soup_server_message_get_remote_address (msg);
  if (addr && G_IS_INET_SOCKET_ADDRESS (addr)) {
    guint16 port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (addr));
    if (remote.find (':') != std::string::npos)
      remote = "[" + remote + "]";
    remote += ":" + std::to_string (port);
  }
  return remote;
}

// Drops a websocket reference from an idle callback, never from inside one of
// the connection's own signal emissions.
void
unref_later (SoupWebsocketConnection *ws)
{
  g_idle_add_full (G_PRIORITY_DEFAULT, [] (gpointer data) -> gboolean {
    g_object_unref (data);
    return G_SOURCE_REMOVE;
  }, ws, nullptr);
}

bool
is_websocket_upgrade (SoupServerMessage *msg)
{
  SoupMessageHeaders *headers = soup_server_message_get_request_headers (msg);
  return soup_message_headers_header_contains (headers, "Upgrade", "websocket");
}

// The token a websocket upgrade presents: "Authorization: Bearer TOKEN", or
// (for browsers, which cannot set headers on a websocket) ?token=TOKEN.
std::optional<std::string>
websocket_token (SoupServerMessage *msg)
{
  if (std::optional<std::string> bearer = bearer_token (soup_message_headers_get_one (
          soup_server_message_get_request_headers (msg), "Authorization")))
    return bearer;
  const char *query = g_uri_get_query (soup_server_message_get_uri (msg));
  if (!query)
    return std::nullopt;
  g_autoptr (GHashTable) params = g_uri_parse_params (query, -1, "&",
      G_URI_PARAMS_WWW_FORM, nullptr);
  const char *token = params ? static_cast<const char *> (g_hash_table_lookup (params, "token"))
      : nullptr;
  if (!token)
    return std::nullopt;
  return std::string (token);
}

}  // namespace

Server::Server (ServerOptions options)
    : options_ (std::move (options)), hub_ (options_.limits),
      auth_ (std::make_shared<const Authorizer> (options_.auth))
{
  options_.whip.auth = auth_;
  options_.whip.origins = options_.origins;
  if (!options_.ice.empty ()) {
    auto servers_for = [ice = options_.ice] (const std::string &label) {
      return ice_servers_for (ice, label, g_get_real_time () / G_USEC_PER_SEC);
    };
    hub_.set_ice_servers (servers_for);
    options_.whip.ice_servers = servers_for;
    options_.whip.relay_only = options_.ice.relay_only;
  }
}

Server::~Server ()
{
  stop ();
}

bool
Server::start (std::string &url, GError **error)
{
  g_autoptr (GTlsCertificate) cert = nullptr;
  const bool tls = !options_.cert_file.empty () || !options_.key_file.empty ();
  if (tls) {
    if (options_.cert_file.empty () || options_.key_file.empty ()) {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
          "TLS needs both --cert and --key");
      return false;
    }
    cert = g_tls_certificate_new_from_files (options_.cert_file.c_str (),
        options_.key_file.c_str (), error);
    if (!cert)
      return false;
  }

  std::string host = options_.host == "localhost" ? "127.0.0.1" : options_.host;
  g_autoptr (GSocketAddress) address = g_inet_socket_address_new_from_string (host.c_str (),
      static_cast<guint> (options_.port));
  if (!address) {
    g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
        "--host \"%s\" is not an IP address; give one such as 127.0.0.1, 0.0.0.0 or ::1",
        options_.host.c_str ());
    return false;
  }

  // Raw paths: each handler decodes its path exactly once (libsoup would
  // decode it first, and "%252e" would become "." after a second decoding).
  soup_ = Ref<SoupServer>::adopt (soup_server_new ("server-header", "rtcstream-signalling ",
      "raw-paths", TRUE, nullptr));

  // No permessage-deflate: signalling frames are small, and a compressed
  // frame could inflate far past the payload limit before libsoup checks it.
  soup_server_remove_websocket_extension (soup_.get (), SOUP_TYPE_WEBSOCKET_EXTENSION_DEFLATE);

  soup_server_add_handler (soup_.get (), "/", on_http, this, nullptr);
  soup_server_add_websocket_handler (soup_.get (), "/", nullptr, nullptr, on_websocket,
      this, nullptr);
  soup_server_add_websocket_handler (soup_.get (), "/ws", nullptr, nullptr, on_websocket,
      this, nullptr);

  // Our own accept loop, backlog and deadlines in front of libsoup.
  listener_ = std::make_unique<Listener> (soup_.get (), options_.listener, cert,
      [this] (SoupServerMessage *msg) { return check_headers (msg); });
  guint port = 0;
  if (!listener_->listen (address, port, error)) {
    listener_.reset ();
    soup_.reset ();
    return false;
  }

  std::string shown = options_.host.find (':') != std::string::npos
      ? "[" + options_.host + "]" : options_.host;
  url = std::string (tls ? "wss://" : "ws://") + shown + ":" + std::to_string (port) + "/ws";

  // The WHIP/WHEP media pipelines reach this server like any other peer.
  std::string self_host = host == "0.0.0.0" ? "127.0.0.1" : host == "::" ? "::1" : host;
  listener_->exempt (self_host);  // they come from the address they connect to
  if (self_host.find (':') != std::string::npos)
    self_host = "[" + self_host + "]";
  whip_ = std::make_unique<WhipEndpoints> (options_.whip, [this] (const std::string &name) {
    return hub_.has_stream (name);
  });
  whip_->attach (soup_.get (), std::string (tls ? "rtcstreams://" : "rtcstream://") +
      self_host + ":" + std::to_string (port) + "/", tls ? options_.cert_file : std::string ());

  if (options_.ping_interval_s > 0) {
    liveness_source_ = g_timeout_add_seconds (options_.ping_interval_s, on_liveness_check,
        this);
  }
  if (options_.resume_grace_s > 0) {
    hub_.set_resume_grace_us (static_cast<gint64> (options_.resume_grace_s) * G_USEC_PER_SEC);
    resume_source_ = g_timeout_add (250, on_resume_expiry, this);
  }
  return true;
}

void
Server::stop ()
{
  if (resume_source_) {
    g_source_remove (resume_source_);
    resume_source_ = 0;
  }
  if (liveness_source_) {
    g_source_remove (liveness_source_);
    liveness_source_ = 0;
  }
  if (!soup_)
    return;
  if (listener_)
    listener_->stop ();
  if (whip_)
    whip_->stop ();
  soup_server_disconnect (soup_.get ());

  // Ask every peer to close, then give the close handshakes a moment.
  for (auto &[id, conn] : connections_) {
    if (soup_websocket_connection_get_state (conn->ws.get ()) == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_close (conn->ws.get (), SOUP_WEBSOCKET_CLOSE_GOING_AWAY,
          "server shutting down");
  }
  const gint64 deadline = g_get_monotonic_time () + G_USEC_PER_SEC;
  GMainContext *context = g_main_context_get_thread_default ();
  while (!connections_.empty () && g_get_monotonic_time () < deadline) {
    if (!g_main_context_iteration (context, FALSE))
      g_usleep (10 * 1000);
  }
  while (!connections_.empty ())
    drop (connections_.begin ()->second.get (), "server shutting down", false);
  // Run the deferred unrefs.
  while (g_main_context_iteration (context, FALSE)) {
  }
  soup_.reset ();
  listener_.reset ();
}

std::string
Server::auth_summary () const
{
  std::vector<std::string> closed, open;
  for (Action a : { Action::Publish, Action::Watch, Action::List })
    (auth_->required (a) ? closed : open).push_back (action_name (a));
  auto words = [] (const std::vector<std::string> &w) {
    std::string out;
    for (std::size_t i = 0; i < w.size (); i++)
      out += (i == 0 ? "" : i + 1 == w.size () ? " and " : ", ") + w[i];
    return out;
  };
  if (closed.empty ())
    return "no token configured (--token, --token-secret-file): anyone who reaches this "
        "server may publish, watch and list streams";
  return "a token is needed to " + words (closed) + (open.empty () ? std::string ()
      : "; anyone who reaches this server may " + words (open));
}

std::optional<EarlyReply>
Server::check_headers (SoupServerMessage *msg)
{
  if (is_websocket_upgrade (msg)) {
    SoupMessageHeaders *h = soup_server_message_get_request_headers (msg);
    const char *origin = soup_message_headers_get_one (h, "Origin");
    if (!options_.origins.allows (origin, soup_message_headers_get_one (h, "Host"))) {
      g_printerr ("refused a websocket from %s: origin %s not allowed\n",
          remote_of (msg).c_str (), log_safe (origin).c_str ());
      return EarlyReply{ SOUP_STATUS_FORBIDDEN, "Pages from " + log_safe (origin) +
          " may not use this server; start it with --allowed-origin for that origin.", {} };
    }
  }
  if (whip_) {
    if (std::optional<EarlyReply> reply = whip_->check_headers (msg))
      return reply;
  }
  // Other paths take no body (GET, HEAD and websocket upgrades); one that
  // says it is large is refused before it is read.
  SoupMessageHeaders *h = soup_server_message_get_request_headers (msg);
  const SoupEncoding encoding = soup_message_headers_get_encoding (h);
  const std::size_t limit = options_.whip.max_sdp_bytes;
  if (encoding == SOUP_ENCODING_CONTENT_LENGTH &&
      static_cast<guint64> (soup_message_headers_get_content_length (h)) > limit)
    return EarlyReply{ SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, "The body is larger than " +
        std::to_string (limit) + " bytes (--max-sdp-size).", {} };
  if (encoding != SOUP_ENCODING_CONTENT_LENGTH && encoding != SOUP_ENCODING_NONE)
    return EarlyReply{ SOUP_STATUS_LENGTH_REQUIRED, "Send the body with a Content-Length.", {} };
  return std::nullopt;
}

// Plain HTTP. Websocket upgrades are left alone (no status set) so libsoup
// goes on to the websocket handlers.
void
Server::on_http (SoupServer *, SoupServerMessage *msg, const char *path, GHashTable *,
    gpointer user_data)
{
  if (is_websocket_upgrade (msg)) {
    if (std::strcmp (path, "/") != 0 && std::strcmp (path, "/ws") != 0)
      soup_server_message_set_status (msg, SOUP_STATUS_NOT_FOUND, nullptr);
    return;
  }
  const char *method = soup_server_message_get_method (msg);
  if (method != SOUP_METHOD_GET && method != SOUP_METHOD_HEAD) {
    soup_server_message_set_status (msg, SOUP_STATUS_METHOD_NOT_ALLOWED, nullptr);
    soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Allow",
        "GET, HEAD");
    return;
  }
  static_cast<Server *> (user_data)->serve_file (msg, path);
}

void
Server::serve_file (SoupServerMessage *msg, const char *path)
{
  const std::optional<std::string> rel = relative_path (path);
  g_autoptr (GBytes) body = nullptr;
  if (rel) {
    body = options_.web_root.empty () ? embedded_file (*rel)
        : file_in_root (options_.web_root, *rel);
  }
  if (!body) {
    not_found (msg);
    return;
  }
  SoupMessageHeaders *headers = soup_server_message_get_response_headers (msg);
  soup_message_headers_set_content_type (headers, content_type (*rel), nullptr);
  soup_message_headers_replace (headers, "X-Content-Type-Options", "nosniff");
  soup_message_headers_replace (headers, "Cache-Control", "no-cache");
  soup_server_message_set_status (msg, SOUP_STATUS_OK, nullptr);
  soup_message_body_append_bytes (soup_server_message_get_response_body (msg), body);
}

void
Server::on_websocket (SoupServer *, SoupServerMessage *msg, const char *,
    SoupWebsocketConnection *ws, gpointer user_data)
{
  static_cast<Server *> (user_data)->accept (msg, ws);
}

void
Server::accept (SoupServerMessage *msg, SoupWebsocketConnection *ws)
{
  const std::string remote = remote_of (msg);
  GSocket *socket = listener_ ? listener_->upgraded (msg) : nullptr;
  // A token that is wrong, expired or badly signed ends the connection; no
  // token at all leaves the peer what needs none (auth.h).
  Authorizer::Result who = auth_->authenticate (websocket_token (msg),
      g_get_real_time () / G_USEC_PER_SEC);
  if (!who.ok) {
    g_printerr ("refused a connection from %s: %s\n", remote.c_str (), who.problem.c_str ());
    refuse (ws, protocol::serialize (protocol::ServerMessage (protocol::Error {
        who.problem + " Connect with a valid token (\"Authorization: Bearer TOKEN\", or "
        "?token=TOKEN on the websocket URL).", protocol::ErrorCode::Unauthorized })),
        SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, "unauthorized");
    return;
  }
  const bool has_token = who.access.has_token;
  Hub::Admission admission = hub_.add_peer (std::move (who.access));
  if (!admission.accepted ()) {
    g_printerr ("refused a connection from %s: peer limit (%zu) reached\n", remote.c_str (),
        hub_.limits ().max_peers);
    refuse (ws, admission.reply, SOUP_WEBSOCKET_CLOSE_POLICY_VIOLATION, "too many peers");
    return;
  }

  auto conn = std::make_unique<Connection> ();
  conn->server = this;
  conn->ws = Ref<SoupWebsocketConnection>::take_ref (ws);
  conn->socket = Ref<GSocket>::take_ref (socket);
  conn->peer_id = admission.peer_id;
  conn->remote = remote;
  conn->last_seen_us = g_get_monotonic_time ();

  soup_websocket_connection_set_max_incoming_payload_size (ws,
      hub_.limits ().max_message_bytes + kPayloadSlack);
  soup_websocket_connection_set_keepalive_interval (ws, options_.ping_interval_s);
  g_signal_connect (ws, "message", G_CALLBACK (on_message), conn.get ());
  g_signal_connect (ws, "pong", G_CALLBACK (on_pong), conn.get ());
  g_signal_connect (ws, "error", G_CALLBACK (on_error), conn.get ());
  g_signal_connect (ws, "closed", G_CALLBACK (on_closed), conn.get ());

  g_printerr ("peer %s joined from %s%s%s\n", conn->peer_id.c_str (), remote.c_str (),
      has_token ? " with a token" : "", who.who.empty () ? "" : (" of " + who.who).c_str ());
  soup_websocket_connection_send_text (ws, admission.reply.c_str ());
  connections_.emplace (admission.peer_id, std::move (conn));
}

void
Server::refuse (SoupWebsocketConnection *ws, const std::string &reply, gushort code,
    const char *reason)
{
  g_signal_connect (g_object_ref (ws), "closed", G_CALLBACK (+[] (
      SoupWebsocketConnection *closed, gpointer) { unref_later (closed); }), nullptr);
  soup_websocket_connection_send_text (ws, reply.c_str ());
  soup_websocket_connection_close (ws, code, reason);
}

void
Server::on_message (SoupWebsocketConnection *, gint type, GBytes *data, gpointer user_data)
{
  auto *conn = static_cast<Connection *> (user_data);
  Server *self = conn->server;
  conn->last_seen_us = g_get_monotonic_time ();

  if (type != SOUP_WEBSOCKET_DATA_TEXT) {
    self->deliver (self->hub_.reject (conn->peer_id, protocol::ErrorCode::InvalidMessage,
        "Binary frames are not part of the protocol; send JSON in text frames."));
    return;
  }
  gsize size = 0;
  const auto *bytes = static_cast<const char *> (g_bytes_get_data (data, &size));
  self->deliver (self->hub_.handle (conn->peer_id, std::string_view (bytes, size)));
}

void
Server::on_pong (SoupWebsocketConnection *, GBytes *, gpointer user_data)
{
  static_cast<Connection *> (user_data)->last_seen_us = g_get_monotonic_time ();
}

void
Server::on_error (SoupWebsocketConnection *ws, GError *error, gpointer user_data)
{
  auto *conn = static_cast<Connection *> (user_data);
  g_printerr ("peer %s (%s): %s\n", conn->peer_id.c_str (), conn->remote.c_str (),
      error->message);
  // libsoup 3.2 drops the connection without a close frame on a frame over
  // its payload limit; the protocol promises 1009.
  if (g_error_matches (error, SOUP_WEBSOCKET_ERROR, SOUP_WEBSOCKET_CLOSE_TOO_BIG) &&
      conn->server->listener_)
    conn->server->listener_->close_too_big (ws, conn->socket.get (), "message too big");
}

void
Server::on_closed (SoupWebsocketConnection *ws, gpointer user_data)
{
  auto *conn = static_cast<Connection *> (user_data);
  gushort code = soup_websocket_connection_get_close_code (ws);
  std::string reason = code == 0 ? std::string ("connection lost")
      : "closed with code " + std::to_string (code);
  if (const char *data = soup_websocket_connection_get_close_data (ws); data && *data)
    reason += " (" + log_safe (data) + ")";
  // A peer that says goodbye closes with 1000 (or 1001, going away).
  const bool lost = code != SOUP_WEBSOCKET_CLOSE_NORMAL && code != SOUP_WEBSOCKET_CLOSE_GOING_AWAY;
  conn->server->drop (conn, reason.c_str (), lost);
}

// Closes connections that neither sent a frame nor answered a ping for three
// ping intervals: their peer has vanished without closing.
gboolean
Server::on_liveness_check (gpointer user_data)
{
  auto *self = static_cast<Server *> (user_data);
  const gint64 now = g_get_monotonic_time ();
  const gint64 max_silence = 3 * static_cast<gint64> (self->options_.ping_interval_s) *
      G_USEC_PER_SEC;
  // By id: dropping one connection may close (and free) another.
  std::vector<std::string> silent;
  for (auto &[id, conn] : self->connections_) {
    if (now - conn->last_seen_us > max_silence)
      silent.push_back (id);
  }
  for (const std::string &id : silent) {
    auto it = self->connections_.find (id);
    if (it != self->connections_.end ())
      self->drop (it->second.get (), "no answer to pings", true);
  }
  return G_SOURCE_CONTINUE;
}

void
Server::deliver (const std::vector<Outgoing> &out)
{
  for (const Outgoing &o : out) {
    auto it = connections_.find (o.peer_id);
    if (it == connections_.end ())
      continue;
    SoupWebsocketConnection *ws = it->second->ws.get ();
    if (soup_websocket_connection_get_state (ws) == SOUP_WEBSOCKET_STATE_OPEN)
      soup_websocket_connection_send_text (ws, o.text.c_str ());
  }
}

// Ends the sessions whose lost producer did not claim them back in time.
gboolean
Server::on_resume_expiry (gpointer user_data)
{
  auto *self = static_cast<Server *> (user_data);
  self->deliver (self->hub_.expire_unclaimed (g_get_monotonic_time ()));
  return G_SOURCE_CONTINUE;
}

void
Server::drop (Connection *conn, const char *reason, bool lost)
{
  auto it = connections_.find (conn->peer_id);
  if (it == connections_.end () || it->second.get () != conn)
    return;
  // Keep the websocket and the entry alive until the end of this function.
  std::unique_ptr<Connection> owned = std::move (it->second);
  connections_.erase (it);

  g_signal_handlers_disconnect_by_data (owned->ws.get (), owned.get ());
  g_printerr ("peer %s left (%s): %s\n", owned->peer_id.c_str (), owned->remote.c_str (),
      reason);
  deliver (hub_.remove_peer (owned->peer_id, lost, g_get_monotonic_time ()));
  SoupWebsocketConnection *ws = owned->ws.release ();
  if (soup_websocket_connection_get_state (ws) == SOUP_WEBSOCKET_STATE_OPEN)
    soup_websocket_connection_close (ws, SOUP_WEBSOCKET_CLOSE_GOING_AWAY, reason);
  unref_later (ws);
}

}  // namespace rtcstream::signalling
