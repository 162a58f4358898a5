// SPDX-License-Identifier: LGPL-2.1-or-later
//
// Raw HTTP for the server suite: a TCP client that sends exactly what the
// test says (from any loopback address) and one-request helpers.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <glib.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <functional>
#include <string>

namespace {

// A raw TCP client: sends exactly what the test says, reads what comes.
class Raw {
public:
  // Connects to the server's port from `from` (a loopback address: every
  // 127.x.y.z is this host, so tests can come from several "clients").
  Raw (int port, const char *from = "127.0.0.1")
  {
    fd_ = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in local{};
    local.sin_family = AF_INET;
    inet_pton (AF_INET, from, &local.sin_addr);
    if (bind (fd_, reinterpret_cast<sockaddr *> (&local), sizeof local) != 0)
      return;
    sockaddr_in server{};
    server.sin_family = AF_INET;
    server.sin_port = htons (static_cast<uint16_t> (port));
    inet_pton (AF_INET, "127.0.0.1", &server.sin_addr);
    connected_ = connect (fd_, reinterpret_cast<sockaddr *> (&server), sizeof server) == 0;
  }
  ~Raw ()
  {
    if (fd_ >= 0)
      close (fd_);
  }
  Raw (const Raw &) = delete;
  Raw &operator= (const Raw &) = delete;

  bool connected () const { return connected_; }
  int fd () const { return fd_; }

  bool send (const std::string &data)
  {
    return ::send (fd_, data.data (), data.size (), MSG_NOSIGNAL) ==
        static_cast<ssize_t> (data.size ());
  }

  // Reads what is there without waiting; true once the server closed (end
  // of stream or reset).
  bool read_closed ()
  {
    if (closed_)
      return true;
    char buf[65536];
    for (;;) {
      ssize_t n = recv (fd_, buf, sizeof buf, MSG_DONTWAIT);
      if (n > 0) {
        received.append (buf, static_cast<std::size_t> (n));
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
        return false;
      closed_ = true;
      return true;
    }
  }

  // Waits at most timeout_ms for the server to close; true if it did.
  bool closed_within (int timeout_ms)
  {
    const gint64 end = g_get_monotonic_time () + timeout_ms * 1000;
    while (!read_closed ()) {
      const gint64 left = (end - g_get_monotonic_time ()) / 1000;
      if (left <= 0)
        return false;
      pollfd p{ fd_, POLLIN, 0 };
      poll (&p, 1, static_cast<int> (std::min<gint64> (left, 100)));
    }
    return true;
  }

  std::string status_line () const { return received.substr (0, received.find ("\r\n")); }

  std::string received;

private:
  int fd_ = -1;
  bool connected_ = false;
  bool closed_ = false;
};

struct Reply {
  int status = 0;
  std::string head;
  std::string body;

  std::string header (const std::string &name) const
  {
    const std::string key = "\r\n" + name + ": ";
    std::size_t at = head.find (key);
    if (at == std::string::npos)
      return "";
    at += key.size ();
    return head.substr (at, head.find ("\r\n", at) - at);
  }
};

// One whole HTTP request over a fresh connection, read until the server
// closes it (it closes after every response).
Reply
request (int port, const std::string &method, const std::string &path, const std::string &body = "",
    const std::string &extra_headers = "", const char *from = "127.0.0.1", int timeout_ms = 20000)
{
  Raw raw (port, from);
  Reply r;
  if (!raw.connected ())
    return r;
  std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n" + extra_headers;
  if (!body.empty () && extra_headers.find ("Content-Type:") == std::string::npos)
    req += "Content-Type: application/sdp\r\n";
  if (!body.empty ())
    req += "Content-Length: " + std::to_string (body.size ()) + "\r\n";
  req += "\r\n" + body;
  raw.send (req);
  raw.closed_within (timeout_ms);
  const std::size_t end = raw.received.find ("\r\n\r\n");
  if (raw.received.rfind ("HTTP/1.1 ", 0) != 0 || end == std::string::npos)
    return r;
  r.status = std::atoi (raw.received.c_str () + 9);
  r.head = raw.received.substr (0, end + 2);
  r.body = raw.received.substr (end + 4);
  return r;
}

// Polls `cond` every 100 ms for at most timeout_ms.
bool
eventually (const std::function<bool ()> &cond, int timeout_ms)
{
  const gint64 end = g_get_monotonic_time () + timeout_ms * 1000;
  while (!cond ()) {
    if (g_get_monotonic_time () > end)
      return false;
    g_usleep (100 * 1000);
  }
  return true;
}

}  // namespace
