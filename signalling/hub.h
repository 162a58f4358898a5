// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The signalling server's logic without sockets: peers, their roles, the
// stream-name registry and the sessions between producers and consumers.
// Each call takes what arrived from one connection and returns the text
// frames to send, addressed by peer id; the transport (server.cpp) only moves
// frames. Behaviour follows gst-plugins-rs' gst-webrtc-signalling-server,
// plus the rtcstream extensions described in docs/protocol.md.
//
// Not thread-safe: call it from one thread (the server's main loop).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "auth.h"
#include "rtcstream/protocol.h"

namespace rtcstream::signalling {

// Text from the network made safe for one line of the log: control,
// invisible and bidirectional-override characters (and invalid UTF-8) are
// shown as \u{XXXX} (\xXX), and the result is cut at about `max` bytes.
std::string log_safe (std::string_view text, std::size_t max = 160);

// Whether `name` (already percent-decoded) may name a stream on a URL path:
// valid UTF-8, 1 to 128 bytes, not "." or "..", no "/" or "\", no control,
// invisible or bidirectional-override character. Empty when it may; else
// what is wrong, as a sentence.
std::string stream_name_problem (std::string_view name);

// One text frame for one connection.
struct Outgoing {
  std::string peer_id;
  std::string text;
};

class Hub {
public:
  explicit Hub (protocol::Limits limits = protocol::Limits ());

  const protocol::Limits &limits () const { return limits_; }

  // The STUN/TURN servers a new peer's "welcome" carries, from its id
  // (per-peer TURN credentials, see ice-servers.h); unset: none.
  using IceServersFor = std::function<std::vector<protocol::IceServer> (const std::string &)>;
  void set_ice_servers (IceServersFor fn) { ice_servers_for_ = std::move (fn); }

  // The result of a new connection. When accepted, peer_id is the id the
  // server assigned and reply the "welcome"; when refused (max_peers
  // reached), peer_id is empty and reply is a "limit-reached" error to send
  // before closing the connection. `access` is what the connection's token
  // allows (auth.h; the default: everything, no token needed): every
  // publish, watch and list of the peer is checked against it, and the
  // listings and status changes it gets show only the producers it may see.
  struct Admission {
    std::string peer_id;
    std::string reply;
    bool accepted () const { return !peer_id.empty (); }
  };
  Admission add_peer (Access access = Access ());

  // One text frame from a connection. An invalid or refused message gets an
  // error reply to its sender only and changes nothing.
  std::vector<Outgoing> handle (const std::string &peer_id, std::string_view text);

  // An error reply for something the transport refused before it became
  // text (a binary frame, say). Changes nothing.
  std::vector<Outgoing> reject (const std::string &peer_id, protocol::ErrorCode code,
      std::string details) const;

  // A connection closed: ends its sessions (the other side of each gets
  // "endSession"), frees its stream name and tells listeners it left. When
  // the connection was lost (no close frame, or silent) and a resume grace is
  // set, the sessions it produces are kept with their producer side empty
  // instead, for the producer to claim again (resumeSession) once it has
  // reconnected: their viewers are not told, and their media goes on.
  std::vector<Outgoing> remove_peer (const std::string &peer_id, bool lost = false,
      std::int64_t now_us = 0);

  // How long (us) the sessions of a producer whose connection was lost wait
  // for it to claim them; 0 (the default): they end at once.
  void set_resume_grace_us (std::int64_t grace_us) { resume_grace_us_ = grace_us; }
  // Ends (telling their consumers) the sessions whose producer did not claim
  // them again within the grace, by now_us.
  std::vector<Outgoing> expire_unclaimed (std::int64_t now_us);

  // For logs and tests.
  bool has_peer (const std::string &peer_id) const { return peers_.count (peer_id) != 0; }
  std::size_t peer_count () const { return peers_.size (); }
  std::size_t session_count () const { return sessions_.size (); }
  std::size_t session_count (const std::string &peer_id) const;
  // Whether a producer has registered this stream name.
  bool has_stream (const std::string &name) const { return stream_names_.count (name) != 0; }
  // The participants of a room (0 when it does not exist: a room lasts while it has any).
  std::size_t room_size (const std::string &room) const;

private:
  struct PeerState {
    std::vector<protocol::Role> roles;
    nlohmann::json meta;            // null or an object
    bool announced = false;         // a setPeerStatus was accepted
    bool received_message = false;  // setProtocolVersion must come first
    std::string stream_name;        // registered name while producing
    std::string room;               // the room it takes part in (meta.room), if any
    std::set<std::string> sessions;
    Access access;                  // what its token allows
    bool has (protocol::Role role) const;
  };
  // A side is empty while a session resumed by one side (resumeSession)
  // waits for the other.
  struct Session {
    std::string producer;
    std::string consumer;
    std::int64_t producer_lost_us = 0;  // its producer's connection was lost then (0: no)
    const std::string &other (const std::string &peer_id) const
    {
      return peer_id == producer ? consumer : producer;
    }
  };

  using Out = std::vector<Outgoing>;

  void on_set_peer_status (const std::string &from, PeerState &peer,
      const protocol::SetPeerStatus &msg, Out &out);
  void on_start_session (const std::string &from, PeerState &peer,
      const protocol::StartSessionRequest &msg, Out &out);
  void on_end_session (const std::string &from, const protocol::EndSession &msg, Out &out);
  void on_peer (const std::string &from, const protocol::Peer &msg, Out &out);
  void on_list (const std::string &from, Out &out) const;
  void on_list_consumers (const std::string &from, Out &out) const;
  void on_protocol_version (const std::string &from, const PeerState &peer,
      const protocol::SetProtocolVersion &msg, Out &out) const;
  void on_resume_session (const std::string &from, PeerState &peer,
      const protocol::ResumeSession &msg, Out &out);

  // Whether `peer` has its most sessions; then tells it so, about `doing`
  // ("starting", "resuming") another.
  bool at_session_limit (const std::string &from, const PeerState &peer, const char *doing,
      Out &out) const;
  // Ends a session and tells the peer other than `by` (if any).
  void end_session (const std::string &session_id, const std::string &by, Out &out);
  // Ends the sessions where `peer_id` plays `role` (producer or consumer).
  void end_sessions_as (const std::string &peer_id, protocol::Role role, Out &out);
  // Tells the listeners that may see it that a peer's status changed: itself,
  // those with the list scope, and, when it is or was a `producer`, those
  // that may watch `stream_name` (Access::may_see).
  void notify_listeners (const std::string &peer_id, const std::vector<protocol::Role> &roles,
      const nlohmann::json &meta, bool producer, const std::string &stream_name,
      Out &out) const;
  // Our extension, rooms: the checks of a producer's meta.room and its name
  // (false: `from` was told why); a participant joining (roomJoined to it,
  // participantJoined to the others) and leaving (participantLeft). Each
  // participant hears of those whose stream it may watch.
  bool valid_room (const std::string &from, const std::string &room, const std::string &name,
      Out &out) const;
  void join_room (const std::string &peer_id, const PeerState &peer, Out &out);
  // `lost`: its connection was lost and its sessions wait for it (resume grace).
  void leave_room (const std::string &peer_id, PeerState &peer, Out &out, bool lost = false);
  // Whether `peer` may `action` (on the stream `name`); else tells it why
  // ("unauthorized" without a valid token, "forbidden" for a wrong scope).
  bool allowed (const std::string &from, const PeerState &peer, Action action,
      const std::string &name, Out &out) const;
  // The peers with `role`; only those `viewer` may see when given.
  std::vector<protocol::PeerInfo> peers_with (protocol::Role role,
      const Access *viewer = nullptr) const;

  static void send (Out &out, const std::string &to, const protocol::ServerMessage &msg);
  static void error (Out &out, const std::string &to, protocol::ErrorCode code,
      std::string details);

  std::string new_id ();

  protocol::Limits limits_;
  IceServersFor ice_servers_for_;
  std::map<std::string, PeerState> peers_;
  std::map<std::string, Session> sessions_;
  std::map<std::string, std::string> stream_names_;  // name -> producer id
  std::map<std::string, std::set<std::string>> rooms_;  // room -> participant ids
  std::mt19937_64 rng_;
  std::int64_t resume_grace_us_ = 0;
};

}  // namespace rtcstream::signalling
