// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The TCP side of rtcstream-signalling, in front of libsoup: its own
// listening socket (with a real backlog), its own accept loop (which backs
// off and recovers when the process runs out of file descriptors, where
// libsoup 3.2's stops for good), a cap on connections in total and per
// client address, and deadlines libsoup does not have: request headers and
// bodies must arrive in time, a response must make progress, and a request
// whose headers already say it will be refused (its Content-Length, its
// token) is answered at once and closed without reading its body.
//
// Each accepted connection is handed to the SoupServer with
// soup_server_accept_iostream (wrapped in TLS first when a certificate is
// given). Everything runs on the thread-default GMainContext of the thread
// that calls listen ().
#pragma once

#include <gio/gio.h>
#include <libsoup/soup.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace rtcstream::signalling {

struct ListenerOptions {
  int backlog = 1024;                    // listen(2) queue (the kernel caps it at somaxconn)
  std::size_t max_connections = 4096;    // open TCP connections, websockets included
  std::size_t max_connections_per_ip = 128;
  unsigned header_timeout_s = 10;        // connect to complete request headers
  unsigned body_timeout_s = 10;          // headers to complete body; longest stall of a response
};

// A reply given from a request's headers alone, before its body is read.
struct EarlyReply {
  guint status = 0;
  std::string text;                      // one line, sent as text/plain
  std::vector<std::pair<std::string, std::string>> headers;
};

class Listener {
public:
  // Decides from the request line and headers whether a request is refused
  // before its body is read (runs on the main context).
  using HeaderCheck = std::function<std::optional<EarlyReply> (SoupServerMessage *msg)>;

  Listener (SoupServer *soup, ListenerOptions options, GTlsCertificate *certificate,
      HeaderCheck check);
  ~Listener ();

  Listener (const Listener &) = delete;
  Listener &operator= (const Listener &) = delete;

  // Binds and listens on `address`; returns the port bound.
  bool listen (GSocketAddress *address, guint &port, GError **error);
  // Connections from `ip` do not count against max_connections_per_ip: the
  // address the server's own WHIP/WHEP pipelines come from.
  void exempt (const std::string &ip);
  // The connection of `msg` became a websocket: no more HTTP deadlines (the
  // server's pings watch it). Returns its socket (transfer none), if known.
  GSocket *upgraded (SoupServerMessage *msg);
  // Closes the websocket `ws` (on `socket`) with code 1009 after a frame far
  // over the limit: sends the close frame and reads and discards what the
  // peer still sends for a moment, so that it gets the close frame rather
  // than a reset. Call it from the connection's "error" handler, before
  // libsoup closes the stream.
  void close_too_big (SoupWebsocketConnection *ws, GSocket *socket, const char *reason);
  // Stops listening and accepting.
  void stop ();

  std::size_t connections () const;

  struct Impl;

private:
  std::shared_ptr<Impl> impl_;
};

// File descriptors the process may still open (RLIMIT_NOFILE minus those
// open), counted from /proc/self/fd.
std::size_t free_file_descriptors ();

// Raises the soft RLIMIT_NOFILE to the hard one; returns the new soft limit.
std::size_t raise_file_limit ();

}  // namespace rtcstream::signalling
