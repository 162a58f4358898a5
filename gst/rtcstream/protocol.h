// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The rtcstream signalling protocol: typed messages, parse + validate +
// serialize. Pure code: no GLib main loop, no sockets, so it can be unit
// tested and fuzzed alone. The wire format is the one of gst-plugins-rs'
// gst-webrtc-signalling-server (JSON text frames, "type" tag, camelCase
// fields); our extensions are optional fields a client of theirs ignores.
// docs/protocol.md is the reference.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "rtcstream/signallers/ice-server.h"

namespace rtcstream::protocol {

// Depth of [ and { nesting of a JSON text, ignoring brackets inside strings;
// stops counting once over `limit`. Checked before parsing what a peer sends,
// to keep nlohmann::json's recursive parts on a short stack.
std::size_t nesting_depth (std::string_view text, std::size_t limit);

enum class Role { Producer, Consumer, Listener };

const char *role_name (Role role);

// Explicit limits. Defaults suit one machine serving a few hundred viewers.
struct Limits {
  std::size_t max_message_bytes = 256 * 1024;  // one websocket text frame
  std::size_t max_peers = 1000;                // connections to the server
  std::size_t max_sessions_per_peer = 100;     // open sessions of one peer
  std::size_t max_meta_bytes = 4096;           // serialized "meta" object
  std::size_t max_id_bytes = 128;              // peer / session ids
};

// A producer as listed by the server.
struct PeerInfo {
  std::string id;
  nlohmann::json meta;  // null or an object
};

// --- messages a peer sends to the server -----------------------------------
struct SetPeerStatus {
  std::vector<Role> roles;
  nlohmann::json meta;                  // null or an object
  std::optional<std::string> peer_id;   // ignored by servers, kept for echo
};
struct StartSessionRequest {            // "startSession" from a peer
  std::string peer_id;                  // the peer to start a session with
  std::optional<std::string> offer;     // consumer-side offer (optional)
};
struct ListRequest {};                  // "list" from a peer
struct ListConsumersRequest {};         // "listConsumers" from a peer
struct SetProtocolVersion {
  std::string version;                  // only "1.0" exists
};
// Our extension: after a reconnection, a session that went on peer to peer
// while the connection was lost, claimed by one of its two sides ("as":
// producer or consumer) so that the server relays its messages again.
struct ResumeSession {
  std::string session_id;
  Role as = Role::Consumer;             // Producer or Consumer
};

// --- messages the server sends to a peer -----------------------------------
// A STUN or TURN server in the shape of the browser's RTCIceServer (the
// one IceServer type, signallers/ice-server.h).
using IceServer = rtcstream::IceServer;
struct Welcome {
  std::string peer_id;
  std::vector<IceServer> ice_servers;   // "iceServers", left out when empty
};
struct PeerStatusChanged {
  std::string peer_id;
  std::vector<Role> roles;              // empty: the peer left
  nlohmann::json meta;
};
struct StartSession {                   // "startSession" to a producer
  std::string peer_id;                  // the consumer
  std::string session_id;
  std::optional<std::string> offer;
};
struct SessionStarted {                 // to the consumer
  std::string peer_id;                  // the producer
  std::string session_id;
};
struct ListReply {                      // "list" with "producers"
  std::vector<PeerInfo> producers;
};
struct ListConsumersReply {             // "listConsumers" with "consumers"
  std::vector<PeerInfo> consumers;
};
// Our extension: rooms (docs/protocol.md, Rooms). To a producer whose
// setPeerStatus put it in a room (meta.room): the room and the other
// participants in it; then one message per participant joining or leaving.
struct RoomJoined {                     // "roomJoined"
  std::string room;
  std::vector<PeerInfo> participants;   // the others, not the receiver
};
struct ParticipantJoined {              // "participantJoined"
  std::string room;
  std::string peer_id;
  nlohmann::json meta;
};
struct ParticipantLeft {                // "participantLeft"
  std::string room;
  std::string peer_id;
  nlohmann::json meta;                  // its last meta
  bool lost = false;                    // its connection was lost: it may come back
};
// Error codes are our extension ("code" field); "details" is the shared part.
enum class ErrorCode {
  Generic,          // "error"
  InvalidMessage,   // "invalid-message": not JSON, wrong types, missing fields
  UnknownType,      // "unknown-type"
  TooLarge,         // "too-large": over max_message_bytes
  UnknownPeer,      // "unknown-peer"
  UnknownSession,   // "unknown-session"
  NameTaken,        // "name-taken": a producer already uses this stream name
  NotProducer,      // "not-producer": target of startSession is no producer
  LimitReached,     // "limit-reached": peers or sessions limit
  NotAllowed,       // "not-allowed": e.g. an offer from the consumer side
  Unauthorized,     // "unauthorized": a token is needed, or the one given is invalid
  Forbidden,        // "forbidden": the token does not allow this (its scopes)
};
const char *error_code_name (ErrorCode code);
std::optional<ErrorCode> error_code_from_name (std::string_view name);
struct Error {
  std::string details;
  ErrorCode code = ErrorCode::Generic;
};

// --- messages both ways ------------------------------------------------------
struct EndSession {
  std::string session_id;
};
struct Sdp {
  std::string type;  // "offer" or "answer"
  std::string sdp;
};
struct Ice {
  std::string candidate;
  uint32_t sdp_m_line_index = 0;
};
struct Peer {                           // "peer": relayed between session peers
  std::string session_id;
  std::variant<Sdp, Ice> body;
};

// What a server receives.
using ClientMessage = std::variant<SetPeerStatus, StartSessionRequest, EndSession,
    Peer, ListRequest, ListConsumersRequest, SetProtocolVersion, ResumeSession>;
// What a client receives.
using ServerMessage = std::variant<Welcome, PeerStatusChanged, StartSession,
    SessionStarted, EndSession, Peer, ListReply, ListConsumersReply, Error, RoomJoined,
    ParticipantJoined, ParticipantLeft>;

template <typename T>
struct ParseResult {
  std::optional<T> message;  // set on success
  Error error;               // set (details non-empty) on failure
  bool ok () const { return message.has_value (); }
};

// Parse and validate one text frame. Never throws; any input gets either a
// message or an Error with a code and a sentence naming the problem.
ParseResult<ClientMessage> parse_client_message (std::string_view text,
    const Limits &limits = Limits ());
ParseResult<ServerMessage> parse_server_message (std::string_view text,
    const Limits &limits = Limits ());

std::string serialize (const ClientMessage &msg);
std::string serialize (const ServerMessage &msg);

// Our extension: the stream name a producer registers under, carried in
// meta as {"name": "..."}. Empty when absent or not a string.
std::string stream_name_from_meta (const nlohmann::json &meta);

// Our extension: the room a producer takes part in, meta {"room": "..."}.
// Empty when absent or not a string.
std::string room_from_meta (const nlohmann::json &meta);

// The stream name of participant `participant` of room `room`:
// "ROOM:PARTICIPANT" (docs/protocol.md, Rooms).
std::string room_stream_name (std::string_view room, std::string_view participant);

// Whether `name` may name a room or a participant in one: 1 to 64 bytes of
// ASCII letters, digits, '-', '_' and '.'. Empty when it may; else what is
// wrong, as a sentence about `what` ("room", "participant").
std::string room_name_problem (std::string_view name, const char *what);

}  // namespace rtcstream::protocol
