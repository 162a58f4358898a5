// SPDX-License-Identifier: LGPL-2.1-or-later
#include "listener.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>

#include "rtcstream/ref.h"

namespace rtcstream::signalling {

namespace {

// File descriptors kept free for everything else the server opens (a
// GMainContext's wakeup, a pipeline's sockets): a connection that would
// take one of them is closed at once.
constexpr int kReservedFds = 32;
// Longest wait for a refused client to take its reply and stop sending.
constexpr guint kLingerMs = 2000;
// Refused connections lingering at once; more are closed without waiting.
constexpr std::size_t kMaxLingering = 256;
// The most a lingering connection reads and drops before closing anyway.
constexpr std::size_t kMaxDrainBytes = 4 * 1024 * 1024;
constexpr guint kSweepMs = 250;
constexpr guint kMaxBackoffMs = 1000;

enum class Phase {
  Headers,    // waiting for complete request headers
  Body,       // waiting for the rest of the body
  Handling,   // the handler has the request (WHIP waits for its answer)
  Sending,    // writing the response
  Websocket,  // upgraded: the server's pings watch it
  Refused,    // answered early; lingering until closed
};

std::string
ip_of (GSocketAddress *address)
{
  if (!address || !G_IS_INET_SOCKET_ADDRESS (address))
    return "unknown";
  g_autofree char *ip = g_inet_address_to_string (
      g_inet_socket_address_get_address (G_INET_SOCKET_ADDRESS (address)));
  return ip;
}

// "ip:port": names one live TCP connection of the server.
std::string
key_of (GSocketAddress *address)
{
  if (!address || !G_IS_INET_SOCKET_ADDRESS (address))
    return {};
  return ip_of (address) + ":" +
      std::to_string (g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (address)));
}

// Reads and drops what a refused peer still sends, for at most kLingerMs,
// after sending it `reply` through `io` (when given), so that closing does
// not reset the connection before the peer read the reply.
struct Linger {
  Listener::Impl *impl = nullptr;
  std::weak_ptr<Listener::Impl> alive;
  Ref<GSocket> socket;
  Ref<GIOStream> io;           // closed at the end; null for a dup'ed socket
  std::string reply;
  std::size_t drained = 0;
  GSource *read_source = nullptr;
  guint timer = 0;
};

}  // namespace

struct Listener::Impl : std::enable_shared_from_this<Listener::Impl> {
  struct Conn {
    Ref<GSocket> socket;
    std::string ip;
    Phase phase = Phase::Headers;
    gint64 deadline_us = 0;    // 0: none
  };

  Ref<SoupServer> soup;
  ListenerOptions options;
  Ref<GTlsCertificate> certificate;
  HeaderCheck check;
  std::string exempt_ip;

  Ref<GSocket> listen_socket;
  GSource *accept_source = nullptr;
  guint retry_source = 0;
  guint sweep_source = 0;
  gulong request_started = 0;
  guint backoff_ms = 0;
  int reserve_fd = -1;         // closed to accept (and drop) one client when out of fds
  int fd_limit = 0;

  std::map<std::string, Conn> conns;         // by "ip:port"
  std::map<std::string, std::size_t> per_ip;
  std::size_t lingering = 0;
  std::map<std::string, gint64> last_log_us;  // one line per second per kind (a few kinds)

  void log (const std::string &kind, const std::string &line)
  {
    const gint64 now = g_get_monotonic_time ();
    gint64 &last = last_log_us[kind];
    if (now - last < G_USEC_PER_SEC)
      return;
    last = now;
    g_printerr ("%s\n", line.c_str ());
  }

  // Accepting -------------------------------------------------------------

  void start_accepting ()
  {
    if (accept_source || !listen_socket)
      return;
    accept_source = g_socket_create_source (listen_socket.get (), G_IO_IN, nullptr);
    g_source_set_callback (accept_source, G_SOURCE_FUNC (+[] (GSocket *, GIOCondition,
        gpointer data) -> gboolean {
      return static_cast<Impl *> (data)->on_acceptable ();
    }), this, nullptr);
    g_source_attach (accept_source, g_main_context_get_thread_default ());
  }

  void stop_accepting ()
  {
    if (accept_source) {
      g_source_destroy (accept_source);
      g_source_unref (accept_source);
      accept_source = nullptr;
    }
  }

  // Out of file descriptors (or kernel memory): stop accepting for a while,
  // closing one waiting client with the spare descriptor so the queue moves.
  void back_off (int err)
  {
    if (reserve_fd >= 0) {
      close (reserve_fd);
      reserve_fd = -1;
      int fd = accept4 (g_socket_get_fd (listen_socket.get ()), nullptr, nullptr,
          SOCK_CLOEXEC);
      if (fd >= 0)
        close (fd);
      reserve_fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);
    }
    backoff_ms = backoff_ms == 0 ? 10 : std::min (backoff_ms * 2, kMaxBackoffMs);
    log ("backoff", "cannot accept connections: " + std::string (g_strerror (err)) + " (" +
        std::to_string (conns.size ()) + " open); trying again in " +
        std::to_string (backoff_ms) + " ms");
    stop_accepting ();
    retry_source = g_timeout_add (backoff_ms, [] (gpointer data) -> gboolean {
      auto *self = static_cast<Impl *> (data);
      self->retry_source = 0;
      self->start_accepting ();
      return G_SOURCE_REMOVE;
    }, this);
  }

  gboolean on_acceptable ()
  {
    const int listen_fd = g_socket_get_fd (listen_socket.get ());
    for (int i = 0; i < 64; i++) {
      struct sockaddr_storage ss;
      socklen_t len = sizeof ss;
      int fd = accept4 (listen_fd, reinterpret_cast<struct sockaddr *> (&ss), &len,
          SOCK_CLOEXEC | SOCK_NONBLOCK);
      if (fd < 0) {
        const int err = errno;
        if (err == EAGAIN || err == EWOULDBLOCK)
          return G_SOURCE_CONTINUE;
        if (err == EINTR || err == ECONNABORTED || err == EPROTO || err == EPERM)
          continue;
        back_off (err);  // destroys this source
        return G_SOURCE_REMOVE;
      }
      backoff_ms = 0;
      take (fd, reinterpret_cast<struct sockaddr *> (&ss), len);
    }
    return G_SOURCE_CONTINUE;
  }

  void take (int fd, struct sockaddr *sa, socklen_t len)
  {
    g_autoptr (GSocketAddress) remote = g_socket_address_new_from_native (sa, len);
    const std::string ip = ip_of (remote);
    if (fd_limit > 0 && fd >= fd_limit - kReservedFds) {
      close (fd);
      log ("fds", "refused a connection from " + ip + ": few file descriptors left (" +
          std::to_string (fd_limit) + " allowed)");
      return;
    }
    if (conns.size () >= options.max_connections) {
      close (fd);
      log ("total", "refused a connection from " + ip + ": " +
          std::to_string (conns.size ()) + " connections open (--max-connections)");
      return;
    }
    if (ip != exempt_ip && per_ip[ip] >= options.max_connections_per_ip) {
      close (fd);
      log ("per-ip", "refused a connection from " + ip + ": it has " +
          std::to_string (per_ip[ip]) + " open (--max-connections-per-ip)");
      return;
    }
    g_autoptr (GError) error = nullptr;
    auto socket = Ref<GSocket>::adopt (g_socket_new_from_fd (fd, &error));
    if (!socket) {
      close (fd);
      log ("socket", std::string ("cannot use an accepted connection: ") + error->message);
      return;
    }
    g_socket_set_option (socket.get (), IPPROTO_TCP, TCP_NODELAY, TRUE, nullptr);
    g_autoptr (GSocketAddress) local = g_socket_get_local_address (socket.get (), nullptr);
    auto tcp = Ref<GSocketConnection>::adopt (
        g_socket_connection_factory_create_connection (socket.get ()));
    Ref<GIOStream> stream = Ref<GIOStream>::take_ref (G_IO_STREAM (tcp.get ()));
    if (certificate) {
      GIOStream *tls = g_tls_server_connection_new (G_IO_STREAM (tcp.get ()),
          certificate.get (), &error);
      if (!tls) {
        log ("tls", std::string ("cannot start TLS: ") + error->message);
        return;
      }
      g_object_set (tls, "require-close-notify", FALSE, nullptr);
      stream = Ref<GIOStream>::adopt (tls);
    }

    const std::string key = key_of (remote);
    Conn &conn = conns[key];
    conn.socket = std::move (socket);
    conn.ip = ip;
    conn.phase = Phase::Headers;
    conn.deadline_us = g_get_monotonic_time () + options.header_timeout_s * G_USEC_PER_SEC;
    per_ip[ip]++;
    // The connection is gone when libsoup (or the websocket) drops the stream.
    struct Gone {
      std::weak_ptr<Impl> impl;
      std::string key;
    };
    g_object_weak_ref (G_OBJECT (tcp.get ()), [] (gpointer data, GObject *) {
      auto *gone = static_cast<Gone *> (data);
      if (auto impl = gone->impl.lock ())
        impl->forget (gone->key);
      delete gone;
    }, new Gone{ weak_from_this (), key });

    // Emits request-started for the first request before returning.
    soup_server_accept_iostream (soup.get (), stream.get (), local, remote, nullptr);
  }

  void forget (const std::string &key)
  {
    auto it = conns.find (key);
    if (it == conns.end ())
      return;
    auto ip = per_ip.find (it->second.ip);
    if (ip != per_ip.end () && --ip->second == 0)
      per_ip.erase (ip);
    conns.erase (it);
  }

  Conn *conn_of (SoupServerMessage *msg)
  {
    auto it = conns.find (key_of (soup_server_message_get_remote_address (msg)));
    return it == conns.end () ? nullptr : &it->second;
  }

  // Deadlines --------------------------------------------------------------

  void sweep ()
  {
    const gint64 now = g_get_monotonic_time ();
    for (auto &[key, conn] : conns) {
      if (conn.deadline_us == 0 || now < conn.deadline_us)
        continue;
      const char *why = conn.phase == Phase::Headers ? "no complete request headers within "
              "the --header-timeout"
          : conn.phase == Phase::Body ? "the request body did not arrive within the "
              "--body-timeout"
          : conn.phase == Phase::Sending ? "it took no response data for the --body-timeout"
          : "it kept sending after its reply";
      log ("timeout " + std::to_string (static_cast<int> (conn.phase)),
          "closed a connection from " + key + ": " + why);
      conn.deadline_us = 0;
      // The fd stays valid for libsoup, which sees the end of the stream and
      // lets the connection go.
      g_socket_shutdown (conn.socket.get (), TRUE, TRUE, nullptr);
    }
  }

  // Requests ---------------------------------------------------------------

  struct MsgData {
    std::weak_ptr<Impl> impl;
  };

  template <typename Fn>
  void on_msg (SoupServerMessage *msg, const char *signal, Fn fn)
  {
    g_signal_connect_data (msg, signal, G_CALLBACK (fn), new MsgData{ weak_from_this () },
        [] (gpointer data, GClosure *) { delete static_cast<MsgData *> (data); },
        static_cast<GConnectFlags> (0));
  }

  static void set_phase (SoupServerMessage *msg, gpointer data, Phase phase, unsigned timeout_s)
  {
    auto impl = static_cast<MsgData *> (data)->impl.lock ();
    if (!impl)
      return;
    if (Conn *conn = impl->conn_of (msg); conn && conn->phase != Phase::Websocket &&
        conn->phase != Phase::Refused) {
      conn->phase = phase;
      conn->deadline_us = timeout_s ? g_get_monotonic_time () + timeout_s * G_USEC_PER_SEC : 0;
    }
  }

  // The response made progress: the client reads it.
  static void sending (SoupServerMessage *msg, gpointer data)
  {
    if (auto impl = static_cast<MsgData *> (data)->impl.lock ())
      set_phase (msg, data, Phase::Sending, impl->options.body_timeout_s);
  }

  void request_started_cb (SoupServerMessage *msg)
  {
    Conn *conn = conn_of (msg);
    if (!conn)
      return;
    // One request per connection: nothing idles between requests.
    soup_message_headers_replace (soup_server_message_get_response_headers (msg), "Connection",
        "close");
    on_msg (msg, "got-headers", +[] (SoupServerMessage *m, gpointer data) {
      auto impl = static_cast<MsgData *> (data)->impl.lock ();
      if (!impl)
        return;
      set_phase (m, data, Phase::Body, impl->options.body_timeout_s);
      if (std::optional<EarlyReply> reply = impl->check ? impl->check (m) : std::nullopt)
        impl->refuse (m, *reply);
    });
    on_msg (msg, "got-body", +[] (SoupServerMessage *m, gpointer data) {
      set_phase (m, data, Phase::Handling, 0);
    });
    on_msg (msg, "wrote-headers", +[] (SoupServerMessage *m, gpointer data) {
      sending (m, data);
    });
    on_msg (msg, "wrote-body-data", +[] (SoupServerMessage *m, guint, gpointer data) {
      sending (m, data);
    });
  }

  // Answers `msg` from its headers and closes its connection without reading
  // the body: libsoup would read all of it first, however large.
  void refuse (SoupServerMessage *msg, const EarlyReply &reply)
  {
    Conn *conn = conn_of (msg);
    if (!conn)
      return;
    const std::string text = reply.text + "\n";
    std::string head = "HTTP/1.1 " + std::to_string (reply.status) + " " +
        soup_status_get_phrase (reply.status) + "\r\nServer: rtcstream-signalling\r\n"
        "Content-Type: text/plain; charset=utf-8\r\nContent-Length: " +
        std::to_string (text.size ()) + "\r\nConnection: close\r\n";
    for (const auto &[name, value] : reply.headers)
      head += name + ": " + value + "\r\n";
    conn->phase = Phase::Refused;
    conn->deadline_us = g_get_monotonic_time () + (kLingerMs + 1000) * 1000;
    Ref<GSocket> socket = conn->socket;
    auto io = Ref<GIOStream>::adopt (soup_server_message_steal_connection (msg));
    if (!io)
      return;
    linger (socket, std::move (io), head + "\r\n" + text);
  }

  void linger (Ref<GSocket> socket, Ref<GIOStream> io, std::string reply)
  {
    if (lingering >= kMaxLingering) {
      if (io)
        g_io_stream_close (io.get (), nullptr, nullptr);
      return;
    }
    lingering++;
    auto *l = new Linger{ this, weak_from_this (), std::move (socket), std::move (io),
      std::move (reply) };
    l->timer = g_timeout_add (kLingerMs, [] (gpointer data) -> gboolean {
      auto *lg = static_cast<Linger *> (data);
      lg->timer = 0;
      finish (lg);
      return G_SOURCE_REMOVE;
    }, l);
    if (l->io && !l->reply.empty ()) {
      g_output_stream_write_all_async (g_io_stream_get_output_stream (l->io.get ()),
          l->reply.data (), l->reply.size (), G_PRIORITY_DEFAULT, nullptr,
          [] (GObject *source, GAsyncResult *res, gpointer data) {
        auto *lg = static_cast<Linger *> (data);
        if (!g_output_stream_write_all_finish (G_OUTPUT_STREAM (source), res, nullptr, nullptr)) {
          finish (lg);
          return;
        }
        drain (lg);
      }, l);
    } else {
      drain (l);
    }
  }

  static void drain (Linger *l)
  {
    if (!l->timer)
      return;  // timed out while writing: finish () ran
    g_socket_shutdown (l->socket.get (), FALSE, TRUE, nullptr);
    l->read_source = g_socket_create_source (l->socket.get (),
        static_cast<GIOCondition> (G_IO_IN | G_IO_HUP | G_IO_ERR), nullptr);
    g_source_set_callback (l->read_source, G_SOURCE_FUNC (+[] (GSocket *socket, GIOCondition,
        gpointer data) -> gboolean {
      char buf[16384];
      for (int i = 0; i < 16; i++) {
        g_autoptr (GError) error = nullptr;
        gssize n = g_socket_receive_with_blocking (socket, buf, sizeof buf, FALSE, nullptr,
            &error);
        if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
          return G_SOURCE_CONTINUE;
        auto *lg = static_cast<Linger *> (data);
        if (n > 0)
          lg->drained += static_cast<std::size_t> (n);
        if (n <= 0 || lg->drained > kMaxDrainBytes) {
          g_source_unref (lg->read_source);
          lg->read_source = nullptr;
          finish (lg);
          return G_SOURCE_REMOVE;
        }
      }
      return G_SOURCE_CONTINUE;
    }), l, nullptr);
    g_source_attach (l->read_source, g_main_context_get_thread_default ());
  }

  // Runs once, from the timer, the reader or a failed write.
  static void finish (Linger *l)
  {
    if (l->timer)
      g_source_remove (l->timer);
    l->timer = 0;
    if (l->read_source) {
      g_source_destroy (l->read_source);
      g_source_unref (l->read_source);
      l->read_source = nullptr;
    }
    if (auto impl = l->alive.lock ())
      impl->lingering--;
    if (l->io) {
      g_io_stream_close_async (l->io.get (), G_PRIORITY_DEFAULT, nullptr,
          [] (GObject *source, GAsyncResult *res, gpointer data) {
        g_io_stream_close_finish (G_IO_STREAM (source), res, nullptr);
        delete static_cast<Linger *> (data);
      }, l);
    } else {
      g_socket_close (l->socket.get (), nullptr);
      delete l;
    }
  }

  ~Impl ()
  {
    stop ();
    if (reserve_fd >= 0)
      close (reserve_fd);
  }

  void stop ()
  {
    stop_accepting ();
    if (retry_source)
      g_source_remove (retry_source);
    retry_source = 0;
    if (sweep_source)
      g_source_remove (sweep_source);
    sweep_source = 0;
    if (request_started && soup)
      g_signal_handler_disconnect (soup.get (), request_started);
    request_started = 0;
    if (listen_socket)
      g_socket_close (listen_socket.get (), nullptr);
    listen_socket.reset ();
  }
};

Listener::Listener (SoupServer *soup, ListenerOptions options, GTlsCertificate *certificate,
    HeaderCheck check)
    : impl_ (std::make_shared<Impl> ())
{
  impl_->soup = Ref<SoupServer>::take_ref (soup);
  impl_->options = options;
  if (certificate)
    impl_->certificate = Ref<GTlsCertificate>::take_ref (certificate);
  impl_->check = std::move (check);
}

Listener::~Listener () = default;

bool
Listener::listen (GSocketAddress *address, guint &port, GError **error)
{
  Impl &d = *impl_;
  auto socket = Ref<GSocket>::adopt (g_socket_new (g_socket_address_get_family (address),
      G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP, error));
  if (!socket)
    return false;
  if (g_socket_address_get_family (address) == G_SOCKET_FAMILY_IPV6)
    g_socket_set_option (socket.get (), IPPROTO_IPV6, IPV6_V6ONLY, TRUE, nullptr);
  g_socket_set_listen_backlog (socket.get (), d.options.backlog);
  if (!g_socket_bind (socket.get (), address, TRUE, error) || !g_socket_listen (socket.get (),
      error))
    return false;
  g_autoptr (GSocketAddress) bound = g_socket_get_local_address (socket.get (), error);
  if (!bound)
    return false;
  port = g_inet_socket_address_get_port (G_INET_SOCKET_ADDRESS (bound));
  d.listen_socket = std::move (socket);

  struct rlimit rl;
  if (getrlimit (RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
    d.fd_limit = static_cast<int> (std::min<rlim_t> (rl.rlim_cur, G_MAXINT));
  d.reserve_fd = open ("/dev/null", O_RDONLY | O_CLOEXEC);

  d.request_started = g_signal_connect (d.soup.get (), "request-started", G_CALLBACK (+[] (
      SoupServer *, SoupServerMessage *msg, gpointer data) {
    static_cast<Impl *> (data)->request_started_cb (msg);
  }), &d);
  d.sweep_source = g_timeout_add (kSweepMs, [] (gpointer data) -> gboolean {
    static_cast<Impl *> (data)->sweep ();
    return G_SOURCE_CONTINUE;
  }, &d);
  d.start_accepting ();
  return true;
}

void
Listener::exempt (const std::string &ip)
{
  impl_->exempt_ip = ip;
}

GSocket *
Listener::upgraded (SoupServerMessage *msg)
{
  Impl::Conn *conn = impl_->conn_of (msg);
  if (!conn)
    return nullptr;
  conn->phase = Phase::Websocket;
  conn->deadline_us = 0;
  return conn->socket.get ();
}

void
Listener::close_too_big (SoupWebsocketConnection *ws, GSocket *socket, const char *reason)
{
  // A server's close frame: FIN + opcode 8, unmasked, code 1009 and reason.
  std::string frame = { static_cast<char> (0x88), 0,
    static_cast<char> (SOUP_WEBSOCKET_CLOSE_TOO_BIG >> 8),
    static_cast<char> (SOUP_WEBSOCKET_CLOSE_TOO_BIG & 0xff) };
  frame += std::string (reason).substr (0, 123);
  frame[1] = static_cast<char> (frame.size () - 2);
  GOutputStream *out = g_io_stream_get_output_stream (soup_websocket_connection_get_io_stream (ws));
  if (G_IS_POLLABLE_OUTPUT_STREAM (out))
    g_pollable_output_stream_write_nonblocking (G_POLLABLE_OUTPUT_STREAM (out), frame.data (),
        frame.size (), nullptr, nullptr);
  if (!socket)
    return;
  // libsoup closes its descriptor right after this; a duplicate keeps the
  // connection open while the rest of the frame is read and dropped.
  int fd = fcntl (g_socket_get_fd (socket), F_DUPFD_CLOEXEC, 0);
  if (fd < 0)
    return;
  auto copy = Ref<GSocket>::adopt (g_socket_new_from_fd (fd, nullptr));
  if (!copy) {
    close (fd);
    return;
  }
  impl_->linger (std::move (copy), Ref<GIOStream> (), std::string ());
}

void
Listener::stop ()
{
  impl_->stop ();
}

std::size_t
Listener::connections () const
{
  return impl_->conns.size ();
}

std::size_t
free_file_descriptors ()
{
  struct rlimit rl;
  if (getrlimit (RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
    return G_MAXSIZE;
  std::size_t open = 0;
  if (GDir *dir = g_dir_open ("/proc/self/fd", 0, nullptr)) {
    while (g_dir_read_name (dir))
      open++;
    g_dir_close (dir);
  }
  return open >= rl.rlim_cur ? 0 : static_cast<std::size_t> (rl.rlim_cur) - open;
}

std::size_t
raise_file_limit ()
{
  struct rlimit rl;
  if (getrlimit (RLIMIT_NOFILE, &rl) != 0)
    return 0;
  if (rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit (RLIMIT_NOFILE, &rl);
    getrlimit (RLIMIT_NOFILE, &rl);
  }
  return rl.rlim_cur == RLIM_INFINITY ? G_MAXSIZE : static_cast<std::size_t> (rl.rlim_cur);
}

}  // namespace rtcstream::signalling
