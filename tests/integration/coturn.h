// SPDX-License-Identifier: LGPL-2.1-or-later
//
// A real coturn (/usr/bin/turnserver) for the tests that need a TURN relay,
// and the candidate types of a session's selected pair, which tell whether
// the media really went through it.
#pragma once

#include <gst/gst.h>

#include <string>

namespace rtcstream::test {

constexpr const char *kTurnServer = "/usr/bin/turnserver";

// coturn on 127.0.0.1 only: listener and relay addresses are loopback, no
// TLS/DTLS listeners, no CLI (it would listen on 5766), no RFC 5780 second
// port. Its configuration, log, pid file and user database live in a
// temporary directory removed with it. One static user, kUser, whose
// password has characters that must be %-escaped in a turn:// URI; or, with
// an auth secret, time-limited credentials made from it (the TURN REST API
// of coturn's use-auth-secret) instead.
class Coturn {
public:
  static constexpr const char *kUser = "rtcstream";
  static constexpr const char *kPassword = "p@ss:w/rd%1";
  static constexpr const char *kPasswordEscaped = "p%40ss%3Aw%2Frd%251";

  explicit Coturn (const std::string &auth_secret = {});
  ~Coturn ();
  Coturn (const Coturn &) = delete;
  Coturn &operator= (const Coturn &) = delete;

  // Whether it started and accepts connections (checked for at most 10 s).
  bool ok () const { return ready_; }
  unsigned port () const { return port_; }
  // turn://USER:PASSWORD@127.0.0.1:PORT with the password escaped.
  std::string uri (const std::string &escaped_password = kPasswordEscaped) const;
  // How the elements name it in messages (no password).
  std::string display () const;
  std::string log () const;
  // SIGTERM (SIGKILL after 2 s), waited for.
  void kill_now ();

private:
  bool alive () const;
  std::string path (const char *name) const { return std::string (dir_) + "/" + name; }

  gchar *dir_ = nullptr;
  GPid pid_ = 0;
  unsigned port_ = 0;
  bool ready_ = false;
};

// The selected pair's candidate types as "local/remote" (e.g. "relay/relay"),
// from the stats of an rtcstreamsrc, or of the first consumer of an
// rtcstreamsink; "/" before a pair is selected.
std::string pair_types (GstElement *element);

}  // namespace rtcstream::test
