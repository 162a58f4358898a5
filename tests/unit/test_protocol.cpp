// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The protocol module alone: every message round-trips through serialize
// and parse, the wire format matches gst-plugins-rs' field names, and every
// kind of bad input gets its own error code.
#include <gtest/gtest.h>

#include <cctype>

#include "rtcstream/protocol.h"

namespace p = rtcstream::protocol;
using nlohmann::json;
using p::ErrorCode;

namespace {

template <typename T>
T
client (const std::string &text, const p::Limits &limits = p::Limits ())
{
  auto r = p::parse_client_message (text, limits);
  EXPECT_TRUE (r.ok ()) << text << " -> " << r.error.details;
  if (!r.ok () || !std::holds_alternative<T> (*r.message)) {
    ADD_FAILURE () << "wrong message kind for " << text;
    return T {};
  }
  return std::get<T> (*r.message);
}

template <typename T>
T
server (const std::string &text)
{
  auto r = p::parse_server_message (text);
  EXPECT_TRUE (r.ok ()) << text << " -> " << r.error.details;
  if (!r.ok () || !std::holds_alternative<T> (*r.message)) {
    ADD_FAILURE () << "wrong message kind for " << text;
    return T {};
  }
  return std::get<T> (*r.message);
}

// Serializes, checks the JSON against `wire`, parses back.
template <typename T>
T
client_round_trip (const T &msg, const json &wire)
{
  std::string text = p::serialize (p::ClientMessage (msg));
  EXPECT_EQ (json::parse (text), wire);
  return client<T> (text);
}

template <typename T>
T
server_round_trip (const T &msg, const json &wire)
{
  std::string text = p::serialize (p::ServerMessage (msg));
  EXPECT_EQ (json::parse (text), wire);
  return server<T> (text);
}

p::Error
client_error (const std::string &text, const p::Limits &limits = p::Limits ())
{
  auto r = p::parse_client_message (text, limits);
  EXPECT_FALSE (r.ok ()) << text;
  EXPECT_FALSE (r.error.details.empty ()) << text;
  return r.error;
}

p::Error
server_error (const std::string &text, const p::Limits &limits = p::Limits ())
{
  auto r = p::parse_server_message (text, limits);
  EXPECT_FALSE (r.ok ()) << text;
  EXPECT_FALSE (r.error.details.empty ()) << text;
  return r.error;
}

}  // namespace

// --- round trips: client -> server -------------------------------------------

TEST (ProtocolRoundTrip, SetPeerStatus)
{
  p::SetPeerStatus m;
  m.roles = { p::Role::Producer, p::Role::Listener };
  m.meta = { { "name", "cam" }, { "display-name", "Camera" } };
  auto back = client_round_trip (m, { { "type", "setPeerStatus" },
      { "roles", { "producer", "listener" } }, { "meta", m.meta } });
  EXPECT_EQ (back.roles, m.roles);
  EXPECT_EQ (back.meta, m.meta);
  EXPECT_FALSE (back.peer_id);

  m.meta = nullptr;
  m.peer_id = "abc";
  back = client_round_trip (m, { { "type", "setPeerStatus" },
      { "roles", { "producer", "listener" } }, { "meta", nullptr }, { "peerId", "abc" } });
  EXPECT_TRUE (back.meta.is_null ());
  EXPECT_EQ (back.peer_id, "abc");
}

TEST (ProtocolRoundTrip, StartSessionRequest)
{
  auto back = client_round_trip (p::StartSessionRequest { "prod-1", std::nullopt },
      { { "type", "startSession" }, { "peerId", "prod-1" }, { "offer", nullptr } });
  EXPECT_EQ (back.peer_id, "prod-1");
  EXPECT_FALSE (back.offer);

  back = client_round_trip (p::StartSessionRequest { "prod-1", "v=0\r\n" },
      { { "type", "startSession" }, { "peerId", "prod-1" }, { "offer", "v=0\r\n" } });
  EXPECT_EQ (back.offer, "v=0\r\n");

  // "offer" may also be left out.
  auto absent = client<p::StartSessionRequest> (R"({"type":"startSession","peerId":"x"})");
  EXPECT_FALSE (absent.offer);
}

TEST (ProtocolRoundTrip, EndSessionBothWays)
{
  json wire = { { "type", "endSession" }, { "sessionId", "s1" } };
  EXPECT_EQ (client_round_trip (p::EndSession { "s1" }, wire).session_id, "s1");
  EXPECT_EQ (server_round_trip (p::EndSession { "s1" }, wire).session_id, "s1");
}

TEST (ProtocolRoundTrip, PeerSdpBothWays)
{
  for (const char *type : { "offer", "answer" }) {
    p::Peer m { "s1", p::Sdp { type, "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n" } };
    json wire = { { "type", "peer" }, { "sessionId", "s1" },
      { "sdp", { { "type", type }, { "sdp", "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n" } } } };
    for (const p::Peer &back : { client_round_trip (m, wire), server_round_trip (m, wire) }) {
      EXPECT_EQ (back.session_id, "s1");
      ASSERT_TRUE (std::holds_alternative<p::Sdp> (back.body));
      EXPECT_EQ (std::get<p::Sdp> (back.body).type, type);
      EXPECT_EQ (std::get<p::Sdp> (back.body).sdp, "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\n");
    }
  }
}

TEST (ProtocolRoundTrip, PeerIceBothWays)
{
  p::Peer m { "s1", p::Ice { "candidate:1 1 UDP 2122252543 10.0.0.1 5000 typ host", 2 } };
  json wire = { { "type", "peer" }, { "sessionId", "s1" },
    { "ice", { { "candidate", "candidate:1 1 UDP 2122252543 10.0.0.1 5000 typ host" },
        { "sdpMLineIndex", 2 } } } };
  for (const p::Peer &back : { client_round_trip (m, wire), server_round_trip (m, wire) }) {
    ASSERT_TRUE (std::holds_alternative<p::Ice> (back.body));
    EXPECT_EQ (std::get<p::Ice> (back.body).candidate, std::get<p::Ice> (m.body).candidate);
    EXPECT_EQ (std::get<p::Ice> (back.body).sdp_m_line_index, 2u);
  }
  // Browsers add "sdpMid" and send an empty candidate at the end: both fine.
  auto ice = client<p::Peer> (R"({"type":"peer","sessionId":"s","ice":{"candidate":"",)"
      R"("sdpMLineIndex":0,"sdpMid":"0"}})");
  EXPECT_EQ (std::get<p::Ice> (ice.body).candidate, "");
}

TEST (ProtocolRoundTrip, ListRequests)
{
  client_round_trip (p::ListRequest {}, { { "type", "list" } });
  client_round_trip (p::ListConsumersRequest {}, { { "type", "listConsumers" } });
}

TEST (ProtocolRoundTrip, SetProtocolVersion)
{
  auto back = client_round_trip (p::SetProtocolVersion { "1.0" },
      { { "type", "setProtocolVersion" }, { "version", "1.0" } });
  EXPECT_EQ (back.version, "1.0");
}

TEST (ProtocolRoundTrip, ResumeSession)
{
  auto back = client_round_trip (p::ResumeSession { "s1", p::Role::Producer },
      { { "type", "resumeSession" }, { "sessionId", "s1" }, { "as", "producer" } });
  EXPECT_EQ (back.session_id, "s1");
  EXPECT_EQ (back.as, p::Role::Producer);
  EXPECT_EQ (client<p::ResumeSession> (
      R"({"type":"resumeSession","sessionId":"s2","as":"consumer"})").as, p::Role::Consumer);
  // Only the two sides of a session; a session id is required.
  for (const char *text : { R"({"type":"resumeSession","sessionId":"s","as":"listener"})",
           R"({"type":"resumeSession","sessionId":"s","as":"both"})",
           R"({"type":"resumeSession","sessionId":"s"})",
           R"({"type":"resumeSession","as":"producer"})",
           R"({"type":"resumeSession","sessionId":"","as":"producer"})" })
    EXPECT_EQ (client_error (text).code, ErrorCode::InvalidMessage) << text;
}

// --- round trips: server -> client -------------------------------------------

TEST (ProtocolRoundTrip, Welcome)
{
  EXPECT_EQ (server_round_trip (p::Welcome { "id-1", {} },
      { { "type", "welcome" }, { "peerId", "id-1" } }).peer_id, "id-1");
}

// The server's STUN/TURN servers, shaped as the browser's RTCIceServer.
TEST (ProtocolRoundTrip, WelcomeWithIceServers)
{
  p::Welcome m { "id-1", {
      { { "stun:stun.example.net:3478" }, "", "" },
      { { "turn:t.example.net:3478?transport=udp", "turns:t.example.net:5349" },
        "1700000000:id-1", "c2VjcmV0" } } };
  auto back = server_round_trip (m, { { "type", "welcome" }, { "peerId", "id-1" },
      { "iceServers", {
          { { "urls", { "stun:stun.example.net:3478" } } },
          { { "urls", { "turn:t.example.net:3478?transport=udp", "turns:t.example.net:5349" } },
            { "username", "1700000000:id-1" }, { "credential", "c2VjcmV0" } } } } });
  EXPECT_EQ (back.ice_servers, m.ice_servers);
  // "urls" may be one string, as browsers accept.
  auto one = server<p::Welcome> (
      R"({"type":"welcome","peerId":"x","iceServers":[{"urls":"stun:h:1"}]})");
  ASSERT_EQ (one.ice_servers.size (), 1u);
  EXPECT_EQ (one.ice_servers[0].urls, std::vector<std::string> { "stun:h:1" });
}

TEST (ProtocolErrors, MalformedIceServersAreRefused)
{
  for (const char *bad : {
           R"({"type":"welcome","peerId":"x","iceServers":{}})",
           R"({"type":"welcome","peerId":"x","iceServers":[1]})",
           R"({"type":"welcome","peerId":"x","iceServers":[{}]})",
           R"({"type":"welcome","peerId":"x","iceServers":[{"urls":[]}]})",
           R"({"type":"welcome","peerId":"x","iceServers":[{"urls":[7]}]})",
           R"({"type":"welcome","peerId":"x","iceServers":[{"urls":"stun:h","username":3}]})",
       }) {
    auto err = server_error (bad);
    EXPECT_NE (err.details.find ("iceServers"), std::string::npos) << bad << ": " << err.details;
  }
}

TEST (ProtocolRoundTrip, PeerStatusChanged)
{
  p::PeerStatusChanged m { "id-1", { p::Role::Producer }, { { "name", "cam" } } };
  auto back = server_round_trip (m, { { "type", "peerStatusChanged" }, { "peerId", "id-1" },
      { "roles", { "producer" } }, { "meta", { { "name", "cam" } } } });
  EXPECT_EQ (back.peer_id, "id-1");
  EXPECT_EQ (back.roles, m.roles);
  EXPECT_EQ (back.meta, m.meta);

  // A peer that left: no roles, its old meta.
  back = server_round_trip (p::PeerStatusChanged { "id-1", {}, nullptr },
      { { "type", "peerStatusChanged" }, { "peerId", "id-1" }, { "roles", json::array () },
        { "meta", nullptr } });
  EXPECT_TRUE (back.roles.empty ());
}

TEST (ProtocolRoundTrip, StartSessionToProducer)
{
  auto back = server_round_trip (p::StartSession { "cons", "s1", std::nullopt },
      { { "type", "startSession" }, { "peerId", "cons" }, { "sessionId", "s1" },
        { "offer", nullptr } });
  EXPECT_EQ (back.peer_id, "cons");
  EXPECT_EQ (back.session_id, "s1");
  EXPECT_FALSE (back.offer);
  back = server_round_trip (p::StartSession { "cons", "s1", "v=0" },
      { { "type", "startSession" }, { "peerId", "cons" }, { "sessionId", "s1" },
        { "offer", "v=0" } });
  EXPECT_EQ (back.offer, "v=0");
}

TEST (ProtocolRoundTrip, SessionStarted)
{
  auto back = server_round_trip (p::SessionStarted { "prod", "s1" },
      { { "type", "sessionStarted" }, { "peerId", "prod" }, { "sessionId", "s1" } });
  EXPECT_EQ (back.peer_id, "prod");
  EXPECT_EQ (back.session_id, "s1");
}

TEST (ProtocolRoundTrip, ListReplies)
{
  std::vector<p::PeerInfo> peers = { { "a", { { "name", "cam" } } }, { "b", nullptr } };
  json wire_peers = { { { "id", "a" }, { "meta", { { "name", "cam" } } } },
    { { "id", "b" }, { "meta", nullptr } } };
  auto list = server_round_trip (p::ListReply { peers },
      { { "type", "list" }, { "producers", wire_peers } });
  ASSERT_EQ (list.producers.size (), 2u);
  EXPECT_EQ (list.producers[0].id, "a");
  EXPECT_EQ (list.producers[0].meta, peers[0].meta);
  EXPECT_TRUE (list.producers[1].meta.is_null ());

  auto consumers = server_round_trip (p::ListConsumersReply { peers },
      { { "type", "listConsumers" }, { "consumers", wire_peers } });
  ASSERT_EQ (consumers.consumers.size (), 2u);
  EXPECT_EQ (consumers.consumers[1].id, "b");

  // gst-plugins-rs may leave "meta" out of an entry.
  auto no_meta = server<p::ListReply> (R"({"type":"list","producers":[{"id":"x"}]})");
  ASSERT_EQ (no_meta.producers.size (), 1u);
  EXPECT_TRUE (no_meta.producers[0].meta.is_null ());
}

TEST (ProtocolRoundTrip, RoomMessages)
{
  json meta = { { "name", "meet:bob" }, { "room", "meet" } };
  auto joined = server_round_trip (p::RoomJoined { "meet", { { "a", meta } } },
      { { "type", "roomJoined" }, { "room", "meet" },
        { "participants", { { { "id", "a" }, { "meta", meta } } } } });
  EXPECT_EQ (joined.room, "meet");
  ASSERT_EQ (joined.participants.size (), 1u);
  EXPECT_EQ (joined.participants[0].meta, meta);
  auto in = server_round_trip (p::ParticipantJoined { "meet", "b", meta },
      { { "type", "participantJoined" }, { "room", "meet" }, { "peerId", "b" }, { "meta", meta } });
  EXPECT_EQ (in.peer_id, "b");
  auto out = server_round_trip (p::ParticipantLeft { "meet", "b", meta },
      { { "type", "participantLeft" }, { "room", "meet" }, { "peerId", "b" }, { "meta", meta } });
  EXPECT_EQ (out.meta, meta);
  EXPECT_FALSE (out.lost);
  auto lost = server_round_trip (p::ParticipantLeft { "meet", "b", meta, true },
      { { "type", "participantLeft" }, { "room", "meet" }, { "peerId", "b" }, { "meta", meta },
        { "lost", true } });
  EXPECT_TRUE (lost.lost);
  EXPECT_EQ (p::room_from_meta (meta), "meet");
  EXPECT_EQ (p::room_from_meta (json { { "room", 3 } }), "");
  EXPECT_EQ (p::room_stream_name ("meet", "bob"), "meet:bob");
  EXPECT_EQ (p::room_name_problem ("a-b_c.9", "room"), "");
  for (const std::string bad : { "", "a:b", "a b", "caf\xC3\xA9", std::string (65, 'r').c_str () })
    EXPECT_NE (p::room_name_problem (bad, "room"), "") << bad;
}

TEST (ProtocolRoundTrip, ErrorWithEveryCode)
{
  for (ErrorCode code : { ErrorCode::Generic, ErrorCode::InvalidMessage,
      ErrorCode::UnknownType, ErrorCode::TooLarge, ErrorCode::UnknownPeer,
      ErrorCode::UnknownSession, ErrorCode::NameTaken, ErrorCode::NotProducer,
      ErrorCode::LimitReached, ErrorCode::NotAllowed }) {
    auto back = server_round_trip (p::Error { "Something went wrong.", code },
        { { "type", "error" }, { "details", "Something went wrong." },
          { "code", p::error_code_name (code) } });
    EXPECT_EQ (back.code, code);
    EXPECT_EQ (back.details, "Something went wrong.");
    EXPECT_EQ (p::error_code_from_name (p::error_code_name (code)), code);
  }
  EXPECT_FALSE (p::error_code_from_name ("no-such-code"));
}

TEST (ProtocolRoundTrip, ErrorFromGstPluginsRsServer)
{
  // Their server sends no "code"; a newer server may send a code we don't know.
  auto plain = server<p::Error> (R"({"type":"error","details":"Peer x not found"})");
  EXPECT_EQ (plain.code, ErrorCode::Generic);
  EXPECT_EQ (plain.details, "Peer x not found");
  auto future = server<p::Error> (R"({"type":"error","details":"d","code":"from-the-future"})");
  EXPECT_EQ (future.code, ErrorCode::Generic);
}

TEST (ProtocolRoundTrip, UnknownFieldsAreIgnored)
{
  auto m = client<p::SetPeerStatus> (R"({"type":"setPeerStatus","roles":["consumer"],)"
      R"("meta":null,"extra":{"a":[1,2]},"future":true})");
  EXPECT_EQ (m.roles, std::vector<p::Role> { p::Role::Consumer });
  server<p::Welcome> (R"({"type":"welcome","peerId":"x","serverVersion":"9"})");
}

TEST (ProtocolRoundTrip, MetaMayBeAbsent)
{
  auto m = client<p::SetPeerStatus> (R"({"type":"setPeerStatus","roles":[]})");
  EXPECT_TRUE (m.meta.is_null ());
  EXPECT_TRUE (m.roles.empty ());
}

TEST (ProtocolRoundTrip, SerializeNeverThrowsOnBadUtf8)
{
  p::Peer m { "s1", p::Sdp { "offer", std::string ("v=0\xff\xfe") } };
  std::string text;
  EXPECT_NO_THROW (text = p::serialize (p::ClientMessage (m)));
  EXPECT_TRUE (p::parse_client_message (text).ok ());
}

TEST (ProtocolRoundTrip, StreamNameFromMeta)
{
  EXPECT_EQ (p::stream_name_from_meta ({ { "name", "cam" } }), "cam");
  EXPECT_EQ (p::stream_name_from_meta ({ { "name", 3 } }), "");
  EXPECT_EQ (p::stream_name_from_meta ({ { "other", "x" } }), "");
  EXPECT_EQ (p::stream_name_from_meta (nullptr), "");
  EXPECT_EQ (p::stream_name_from_meta (json::array ({ "name" })), "");
}

TEST (ProtocolRoundTrip, RoleNames)
{
  EXPECT_STREQ (p::role_name (p::Role::Producer), "producer");
  EXPECT_STREQ (p::role_name (p::Role::Consumer), "consumer");
  EXPECT_STREQ (p::role_name (p::Role::Listener), "listener");
}

// --- malformed input -----------------------------------------------------------

TEST (ProtocolInvalid, NotJson)
{
  for (const char *text : { "", "{", "hello", "{\"type\":\"list\"", "{'type':'list'}",
      "{\"type\":\"list\"} trailing", "\xff\xfe" }) {
    EXPECT_EQ (client_error (text).code, ErrorCode::InvalidMessage) << text;
    EXPECT_EQ (server_error (text).code, ErrorCode::InvalidMessage) << text;
  }
}

TEST (ProtocolInvalid, NotAnObject)
{
  for (const char *text : { "[]", "\"list\"", "42", "null", "true", "[{\"type\":\"list\"}]" }) {
    auto e = client_error (text);
    EXPECT_EQ (e.code, ErrorCode::InvalidMessage) << text;
    EXPECT_NE (e.details.find ("not an object"), std::string::npos) << e.details;
  }
}

TEST (ProtocolInvalid, TypeMissingOrNotString)
{
  EXPECT_EQ (client_error (R"({"peerId":"x"})").code, ErrorCode::InvalidMessage);
  EXPECT_EQ (client_error (R"({"type":3})").code, ErrorCode::InvalidMessage);
  EXPECT_EQ (client_error (R"({"type":null})").code, ErrorCode::InvalidMessage);
  EXPECT_EQ (server_error (R"({"type":["welcome"]})").code, ErrorCode::InvalidMessage);
}

TEST (ProtocolInvalid, UnknownType)
{
  auto e = client_error (R"({"type":"dance"})");
  EXPECT_EQ (e.code, ErrorCode::UnknownType);
  EXPECT_NE (e.details.find ("\"dance\""), std::string::npos) << e.details;
  // Server-only messages are unknown to a server and the other way round.
  EXPECT_EQ (client_error (R"({"type":"welcome","peerId":"x"})").code, ErrorCode::UnknownType);
  EXPECT_EQ (client_error (R"({"type":"sessionStarted","peerId":"x","sessionId":"s"})").code,
      ErrorCode::UnknownType);
  EXPECT_EQ (server_error (R"({"type":"setPeerStatus","roles":[]})").code,
      ErrorCode::UnknownType);
  EXPECT_EQ (server_error (R"({"type":"Welcome","peerId":"x"})").code, ErrorCode::UnknownType);
}

TEST (ProtocolInvalid, TooLarge)
{
  p::Limits limits;
  limits.max_message_bytes = 64;
  std::string text = R"({"type":"peer","sessionId":"s","sdp":{"type":"offer","sdp":")" +
      std::string (100, 'a') + "\"}}";
  EXPECT_EQ (client_error (text, limits).code, ErrorCode::TooLarge);
  EXPECT_EQ (server_error (text, limits).code, ErrorCode::TooLarge);
  // Size is checked before anything else, even for garbage.
  EXPECT_EQ (client_error (std::string (65, '['), limits).code, ErrorCode::TooLarge);
  // Exactly at the limit is fine.
  std::string list = R"({"type":"list"})";
  limits.max_message_bytes = list.size ();
  EXPECT_TRUE (p::parse_client_message (list, limits).ok ());
}

TEST (ProtocolInvalid, DeepNestingIsRefused)
{
  std::string deep = R"({"type":"setPeerStatus","roles":[],"meta":{"a":)" +
      std::string (10000, '[') + std::string (10000, ']') + "}}";
  EXPECT_EQ (client_error (deep).code, ErrorCode::InvalidMessage);
  // Brackets inside strings do not count.
  auto m = client<p::SetPeerStatus> (R"({"type":"setPeerStatus","roles":[],"meta":{"a":")" +
      std::string (100, '[') + "\"}}");
  EXPECT_TRUE (m.meta.is_object ());
}

TEST (ProtocolInvalid, WrongFieldTypes)
{
  struct Case {
    const char *text;
    const char *field;
  };
  for (const Case &c : std::initializer_list<Case> {
      { R"({"type":"setPeerStatus","roles":"producer"})", "roles" },
      { R"({"type":"setPeerStatus","roles":[],"meta":"cam"})", "meta" },
      { R"({"type":"setPeerStatus","roles":[],"meta":[1]})", "meta" },
      { R"({"type":"setPeerStatus","roles":[],"peerId":5})", "peerId" },
      { R"({"type":"startSession","peerId":7})", "peerId" },
      { R"({"type":"startSession","peerId":"p","offer":5})", "offer" },
      { R"({"type":"startSession","peerId":"p","offer":{"sdp":"x"}})", "offer" },
      { R"({"type":"endSession","sessionId":["s"]})", "sessionId" },
      { R"({"type":"peer","sessionId":"s","sdp":"v=0"})", "sdp" },
      { R"({"type":"peer","sessionId":"s","sdp":{"type":"offer","sdp":5}})", "sdp" },
      { R"({"type":"peer","sessionId":"s","sdp":{"type":1,"sdp":"v"}})", "type" },
      { R"({"type":"peer","sessionId":"s","ice":[]})", "ice" },
      { R"({"type":"peer","sessionId":"s","ice":{"candidate":1,"sdpMLineIndex":0}})", "candidate" },
      { R"({"type":"peer","sessionId":"s","ice":{"candidate":"c","sdpMLineIndex":"0"}})", "sdpMLineIndex" },
      { R"({"type":"peer","sessionId":"s","ice":{"candidate":"c","sdpMLineIndex":-1}})", "sdpMLineIndex" },
      { R"({"type":"peer","sessionId":"s","ice":{"candidate":"c","sdpMLineIndex":0.5}})", "sdpMLineIndex" },
      { R"({"type":"peer","sessionId":"s","ice":{"candidate":"c","sdpMLineIndex":4294967296}})", "sdpMLineIndex" },
      { R"({"type":"setProtocolVersion","version":1})", "version" },
    }) {
    auto e = client_error (c.text);
    EXPECT_EQ (e.code, ErrorCode::InvalidMessage) << c.text;
    EXPECT_NE (e.details.find (std::string ("\"") + c.field + "\""), std::string::npos)
        << c.text << " -> " << e.details;
  }
  for (const Case &c : std::initializer_list<Case> {
      { R"({"type":"welcome","peerId":1})", "peerId" },
      { R"({"type":"peerStatusChanged","peerId":"a","roles":[],"meta":1})", "meta" },
      { R"({"type":"list","producers":{}})", "producers" },
      { R"({"type":"list","producers":["a"]})", "producers" },
      { R"({"type":"list","producers":[{"id":2}]})", "id" },
      { R"({"type":"listConsumers","consumers":[{"id":"a","meta":"m"}]})", "meta" },
      { R"({"type":"error","details":5})", "details" },
      { R"({"type":"error","details":"d","code":5})", "code" },
    }) {
    auto e = server_error (c.text);
    EXPECT_EQ (e.code, ErrorCode::InvalidMessage) << c.text;
    EXPECT_NE (e.details.find (std::string ("\"") + c.field + "\""), std::string::npos)
        << c.text << " -> " << e.details;
  }
}

TEST (ProtocolInvalid, MissingFields)
{
  struct Case {
    const char *text;
    const char *field;
  };
  for (const Case &c : std::initializer_list<Case> {
      { R"({"type":"setPeerStatus"})", "roles" },
      { R"({"type":"startSession"})", "peerId" },
      { R"({"type":"startSession","offer":"v=0"})", "peerId" },
      { R"({"type":"endSession"})", "sessionId" },
      { R"({"type":"peer","sdp":{"type":"offer","sdp":"v"}})", "sessionId" },
      { R"({"type":"peer","sessionId":"s"})", "sdp" },
      { R"({"type":"peer","sessionId":"s","sdp":{"sdp":"v"}})", "type" },
      { R"({"type":"peer","sessionId":"s","sdp":{"type":"offer"}})", "sdp" },
      { R"({"type":"peer","sessionId":"s","ice":{"sdpMLineIndex":0}})", "candidate" },
      { R"({"type":"peer","sessionId":"s","ice":{"candidate":"c"}})", "sdpMLineIndex" },
      { R"({"type":"setProtocolVersion"})", "version" },
    }) {
    auto e = client_error (c.text);
    EXPECT_EQ (e.code, ErrorCode::InvalidMessage) << c.text;
    EXPECT_NE (e.details.find (std::string ("\"") + c.field + "\""), std::string::npos)
        << c.text << " -> " << e.details;
  }
  for (const Case &c : std::initializer_list<Case> {
      { R"({"type":"welcome"})", "peerId" },
      { R"({"type":"peerStatusChanged","roles":[]})", "peerId" },
      { R"({"type":"peerStatusChanged","peerId":"a"})", "roles" },
      { R"({"type":"startSession","peerId":"c"})", "sessionId" },
      { R"({"type":"sessionStarted","sessionId":"s"})", "peerId" },
      { R"({"type":"list"})", "producers" },
      { R"({"type":"listConsumers"})", "consumers" },
      { R"({"type":"list","producers":[{"meta":null}]})", "id" },
      { R"({"type":"error"})", "details" },
    }) {
    auto e = server_error (c.text);
    EXPECT_EQ (e.code, ErrorCode::InvalidMessage) << c.text;
    EXPECT_NE (e.details.find (std::string ("\"") + c.field + "\""), std::string::npos)
        << c.text << " -> " << e.details;
  }
}

TEST (ProtocolInvalid, BadIds)
{
  p::Limits limits;
  limits.max_id_bytes = 8;
  const std::string long_id (9, 'x');
  for (const std::string &text : {
      std::string (R"({"type":"startSession","peerId":""})"),
      R"({"type":"startSession","peerId":")" + long_id + "\"}",
      std::string (R"({"type":"endSession","sessionId":""})"),
      R"({"type":"endSession","sessionId":")" + long_id + "\"}",
      std::string (R"({"type":"peer","sessionId":"","ice":{"candidate":"","sdpMLineIndex":0}})"),
      std::string (R"({"type":"setPeerStatus","roles":[],"peerId":""})"),
    }) {
    EXPECT_EQ (client_error (text, limits).code, ErrorCode::InvalidMessage) << text;
  }
  EXPECT_EQ (server_error (R"({"type":"welcome","peerId":""})").code, ErrorCode::InvalidMessage);
  EXPECT_EQ (server_error (R"({"type":"sessionStarted","peerId":"p","sessionId":""})").code,
      ErrorCode::InvalidMessage);
  // At the limit is fine.
  EXPECT_TRUE (p::parse_client_message (R"({"type":"endSession","sessionId":"12345678"})",
      limits).ok ());
}

TEST (ProtocolInvalid, BadRoles)
{
  for (const char *text : {
      R"({"type":"setPeerStatus","roles":["publisher"]})",
      R"({"type":"setPeerStatus","roles":["Producer"]})",
      R"({"type":"setPeerStatus","roles":["producer",1]})",
      R"({"type":"setPeerStatus","roles":[null]})",
    }) {
    auto e = client_error (text);
    EXPECT_EQ (e.code, ErrorCode::InvalidMessage) << text;
    EXPECT_NE (e.details.find ("\"roles\""), std::string::npos) << e.details;
  }
  EXPECT_EQ (server_error (R"({"type":"peerStatusChanged","peerId":"a","roles":["boss"]})").code,
      ErrorCode::InvalidMessage);
}

TEST (ProtocolInvalid, BadSdpType)
{
  for (const char *type : { "pranswer", "rollback", "Offer", "" }) {
    std::string text = std::string (R"({"type":"peer","sessionId":"s","sdp":{"type":")") +
        type + R"(","sdp":"v=0"}})";
    auto e = client_error (text);
    EXPECT_EQ (e.code, ErrorCode::InvalidMessage) << text;
    EXPECT_NE (e.details.find ("\"offer\" or \"answer\""), std::string::npos) << e.details;
    EXPECT_EQ (server_error (text).code, ErrorCode::InvalidMessage) << text;
  }
}

TEST (ProtocolInvalid, PeerWithBothSdpAndIce)
{
  EXPECT_EQ (client_error (R"({"type":"peer","sessionId":"s","sdp":{"type":"offer","sdp":"v"},)"
      R"("ice":{"candidate":"c","sdpMLineIndex":0}})").code, ErrorCode::InvalidMessage);
}

TEST (ProtocolInvalid, MetaTooLarge)
{
  p::Limits limits;
  limits.max_meta_bytes = 32;
  std::string text = R"({"type":"setPeerStatus","roles":["producer"],"meta":{"name":")" +
      std::string (40, 'n') + "\"}}";
  auto e = client_error (text, limits);
  EXPECT_EQ (e.code, ErrorCode::InvalidMessage);
  EXPECT_NE (e.details.find ("\"meta\""), std::string::npos) << e.details;
}

TEST (ProtocolInvalid, DetailsAreSentences)
{
  for (const char *text : { "nope", "[]", R"({"type":"x"})", R"({"type":"startSession"})" }) {
    auto e = client_error (text);
    ASSERT_FALSE (e.details.empty ());
    EXPECT_TRUE (std::isupper (static_cast<unsigned char> (e.details.front ()))) << e.details;
    EXPECT_EQ (e.details.back (), '.') << e.details;
  }
}
