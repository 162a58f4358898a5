// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The libsoup 3 transport around Hub: accepts websocket connections on "/"
// and "/ws", moves text frames between them and the hub, serves the web client
// (web/, embedded at build time, or a directory given with --web-root) over
// plain HTTP, and closes connections that stopped answering pings. All of it
// runs on the thread-default GMainContext of the thread that calls start ().
#pragma once

#include <gio/gio.h>
#include <libsoup/soup.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "auth.h"
#include "hub.h"
#include "ice-servers.h"
#include "listener.h"
#include "rtcstream/ref.h"
#include "whip.h"

namespace rtcstream::signalling {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8443;                 // 0: the system picks a free port
  protocol::Limits limits;
  std::string cert_file;           // both set: TLS (wss://, https://)
  std::string key_file;
  unsigned ping_interval_s = 10;   // a peer silent for 3 intervals is closed
  unsigned resume_grace_s = 5;     // a lost producer's sessions wait this long for it (0: no)
  std::string web_root;            // empty: serve the embedded web client
  WhipOptions whip;                // the /whip/ and /whep/ endpoints (whip.h)
  IceServerOptions ice;            // STUN/TURN servers for peers (ice-servers.h)
  ListenerOptions listener;        // backlog, connection caps, deadlines (listener.h)
  AuthOptions auth;                // tokens and the JWT secret (auth.h)
  OriginPolicy origins;            // pages that may use the server from a browser
};

class Server {
public:
  explicit Server (ServerOptions options);
  ~Server ();

  Server (const Server &) = delete;
  Server &operator= (const Server &) = delete;

  // Listens. On success returns the URL clients connect to
  // (ws://HOST:PORT/ws, with the port actually bound).
  bool start (std::string &url, GError **error);
  // Closes every connection (close code "going away"), waiting at most
  // about a second for the close handshakes, and stops listening.
  void stop ();

  // What needs a token, as a sentence for the start-up log.
  std::string auth_summary () const;
  bool auth_enabled () const { return auth_->enabled (); }

private:
  struct Connection {
    Server *server = nullptr;
    Ref<SoupWebsocketConnection> ws;
    std::string peer_id;
    std::string remote;        // "host:port", for logs
    Ref<GSocket> socket;       // its TCP socket (for the 1009 close)
    gint64 last_seen_us = 0;   // monotonic time of the last frame or pong
  };

  static void on_http (SoupServer *soup, SoupServerMessage *msg, const char *path,
      GHashTable *query, gpointer user_data);
  // The refusal of a request from its headers alone (listener.h).
  std::optional<EarlyReply> check_headers (SoupServerMessage *msg);
  // Answers a GET or HEAD of `path` with a file of the web client.
  void serve_file (SoupServerMessage *msg, const char *path);
  static void on_websocket (SoupServer *soup, SoupServerMessage *msg, const char *path,
      SoupWebsocketConnection *ws, gpointer user_data);
  static void on_message (SoupWebsocketConnection *ws, gint type, GBytes *data,
      gpointer user_data);
  static void on_pong (SoupWebsocketConnection *ws, GBytes *data, gpointer user_data);
  static void on_error (SoupWebsocketConnection *ws, GError *error, gpointer user_data);
  static void on_closed (SoupWebsocketConnection *ws, gpointer user_data);
  static gboolean on_liveness_check (gpointer user_data);
  static gboolean on_resume_expiry (gpointer user_data);

  void accept (SoupServerMessage *msg, SoupWebsocketConnection *ws);
  // Sends `reply` and closes `ws` with `code`, keeping the websocket until
  // the close handshake is done (libsoup drops its reference when the
  // websocket callback returns).
  static void refuse (SoupWebsocketConnection *ws, const std::string &reply, gushort code,
      const char *reason);
  void deliver (const std::vector<Outgoing> &out);
  // Removes a connection from the hub and the map, telling the others;
  // closes its websocket if still open. lost: it went without a goodbye (no
  // close frame, or silent), which the hub's resume grace applies to.
  void drop (Connection *conn, const char *reason, bool lost);

  ServerOptions options_;
  Hub hub_;
  Ref<SoupServer> soup_;
  std::unique_ptr<Listener> listener_;
  std::map<std::string, std::unique_ptr<Connection>> connections_;  // by peer id
  guint liveness_source_ = 0;
  guint resume_source_ = 0;
  std::unique_ptr<WhipEndpoints> whip_;
  std::shared_ptr<const Authorizer> auth_;
};

}  // namespace rtcstream::signalling
