// SPDX-License-Identifier: LGPL-2.1-or-later
//
// The signalling server's logic without sockets: each test plays peers
// against a Hub and checks who is told what.
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "hub.h"

namespace p = rtcstream::protocol;
using nlohmann::json;
using p::ErrorCode;
using rtcstream::signalling::Hub;
using rtcstream::signalling::Outgoing;

namespace {

class HubTest : public ::testing::Test {
protected:
  explicit HubTest (p::Limits limits = p::Limits ()) : hub (limits) {}

  std::string join ()
  {
    Hub::Admission a = hub.add_peer ();
    EXPECT_TRUE (a.accepted ()) << a.reply;
    auto welcome = p::parse_server_message (a.reply);
    EXPECT_TRUE (welcome.ok ());
    EXPECT_EQ (std::get<p::Welcome> (*welcome.message).peer_id, a.peer_id);
    return a.peer_id;
  }

  std::vector<Outgoing> send (const std::string &from, const json &msg)
  {
    return hub.handle (from, msg.dump ());
  }

  std::string producer (const std::string &name = "", bool listen = false)
  {
    std::string id = join ();
    json roles = listen ? json { "producer", "listener" } : json { "producer" };
    json meta = name.empty () ? json (nullptr) : json { { "name", name } };
    auto out = send (id, { { "type", "setPeerStatus" }, { "roles", roles }, { "meta", meta } });
    for (const Outgoing &o : out)
      EXPECT_FALSE (is_error (o)) << o.text;
    return id;
  }

  std::string listener ()
  {
    std::string id = join ();
    send (id, { { "type", "setPeerStatus" }, { "roles", { "listener" } } });
    return id;
  }

  static bool is_error (const Outgoing &o)
  {
    auto r = p::parse_server_message (o.text);
    return r.ok () && std::holds_alternative<p::Error> (*r.message);
  }

  // The single message in `out`, sent to `to`, of kind T.
  template <typename T>
  static T only (const std::vector<Outgoing> &out, const std::string &to)
  {
    EXPECT_EQ (out.size (), 1u) << dump (out);
    return to_peer<T> (out, to);
  }

  // The one message of kind T in `out` sent to `to`.
  template <typename T>
  static T to_peer (const std::vector<Outgoing> &out, const std::string &to)
  {
    std::vector<T> found;
    for (const Outgoing &o : out) {
      if (o.peer_id != to)
        continue;
      auto r = p::parse_server_message (o.text);
      EXPECT_TRUE (r.ok ()) << o.text << ": " << r.error.details;
      if (r.ok () && std::holds_alternative<T> (*r.message))
        found.push_back (std::get<T> (*r.message));
    }
    EXPECT_EQ (found.size (), 1u) << "to " << to << " in " << dump (out);
    return found.empty () ? T {} : found.front ();
  }

  static std::string only_session_end (const std::vector<Outgoing> &out, const std::string &to)
  {
    return to_peer<p::EndSession> (out, to).session_id;
  }

  static ErrorCode error_code (const std::vector<Outgoing> &out, const std::string &to)
  {
    return only<p::Error> (out, to).code;
  }

  static std::string dump (const std::vector<Outgoing> &out)
  {
    std::string s;
    for (const Outgoing &o : out)
      s += o.peer_id + " <- " + o.text + "\n";
    return s;
  }

  // Starts a session from consumer to producer; returns its id.
  std::string start (const std::string &consumer, const std::string &producer_id,
      std::optional<std::string> offer = std::nullopt)
  {
    json msg = { { "type", "startSession" }, { "peerId", producer_id } };
    if (offer)
      msg["offer"] = *offer;
    auto out = send (consumer, msg);
    EXPECT_EQ (out.size (), 2u) << dump (out);
    auto started = to_peer<p::SessionStarted> (out, consumer);
    auto request = to_peer<p::StartSession> (out, producer_id);
    EXPECT_EQ (started.peer_id, producer_id);
    EXPECT_EQ (request.peer_id, consumer);
    EXPECT_EQ (started.session_id, request.session_id);
    EXPECT_EQ (request.offer, offer);
    return started.session_id;
  }

  static json sdp (const std::string &session, const char *type)
  {
    return { { "type", "peer" }, { "sessionId", session },
      { "sdp", { { "type", type }, { "sdp", std::string ("v=0 ") + type } } } };
  }

  static json ice (const std::string &session)
  {
    return { { "type", "peer" }, { "sessionId", session },
      { "ice", { { "candidate", "candidate:1 1 UDP 1 10.0.0.1 9 typ host" },
          { "sdpMLineIndex", 1 } } } };
  }

  Hub hub;
};

p::Limits
small_limits ()
{
  p::Limits limits;
  limits.max_peers = 3;
  limits.max_sessions_per_peer = 2;
  limits.max_message_bytes = 512;
  return limits;
}

class HubLimitsTest : public HubTest {
protected:
  HubLimitsTest () : HubTest (small_limits ()) {}
};

}  // namespace

TEST_F (HubTest, WelcomeGivesUniqueIds)
{
  std::set<std::string> ids;
  for (int i = 0; i < 50; i++)
    ids.insert (join ());
  EXPECT_EQ (ids.size (), 50u);
  EXPECT_EQ (hub.peer_count (), 50u);
}

TEST_F (HubTest, ProducerIsAnnouncedToListeners)
{
  std::string l1 = listener ();
  std::string l2 = listener ();
  std::string other = join ();
  std::string prod = join ();
  auto out = send (prod, { { "type", "setPeerStatus" }, { "roles", { "producer" } },
      { "meta", { { "name", "cam" } } } });
  ASSERT_EQ (out.size (), 2u) << dump (out);
  for (const std::string &l : { l1, l2 }) {
    auto changed = to_peer<p::PeerStatusChanged> (out, l);
    EXPECT_EQ (changed.peer_id, prod);
    EXPECT_EQ (changed.roles, std::vector<p::Role> { p::Role::Producer });
    EXPECT_EQ (changed.meta, (json { { "name", "cam" } }));
  }
  for (const Outgoing &o : out)
    EXPECT_NE (o.peer_id, other);
  EXPECT_EQ (hub.session_count (), 0u);
}

TEST_F (HubTest, ListeningPeerHearsItsOwnStatus)
{
  std::string id = join ();
  auto out = send (id, { { "type", "setPeerStatus" }, { "roles", { "producer", "listener" } },
      { "meta", nullptr } });
  auto changed = only<p::PeerStatusChanged> (out, id);
  EXPECT_EQ (changed.peer_id, id);
  // The same status again changes nothing and tells nobody.
  EXPECT_TRUE (send (id, { { "type", "setPeerStatus" }, { "roles", { "producer", "listener" } },
      { "meta", nullptr } }).empty ());
}

TEST_F (HubTest, DuplicateStreamNameIsRefused)
{
  std::string l = listener ();
  std::string first = producer ("cam");
  std::string second = join ();
  auto out = send (second, { { "type", "setPeerStatus" }, { "roles", { "producer" } },
      { "meta", { { "name", "cam" } } } });
  auto err = only<p::Error> (out, second);
  EXPECT_EQ (err.code, ErrorCode::NameTaken);
  EXPECT_NE (err.details.find ("\"cam\""), std::string::npos);

  // Not registered: the list has only the first.
  auto list = only<p::ListReply> (send (l, { { "type", "list" } }), l);
  ASSERT_EQ (list.producers.size (), 1u);
  EXPECT_EQ (list.producers[0].id, first);

  // Another name works; a producer may re-announce its own name.
  auto ok = send (second, { { "type", "setPeerStatus" }, { "roles", { "producer" } },
      { "meta", { { "name", "cam2" } } } });
  EXPECT_EQ (to_peer<p::PeerStatusChanged> (ok, l).peer_id, second);
  auto again = send (first, { { "type", "setPeerStatus" }, { "roles", { "producer" } },
      { "meta", { { "name", "cam" }, { "title", "new" } } } });
  EXPECT_EQ (to_peer<p::PeerStatusChanged> (again, l).peer_id, first);
}

TEST_F (HubTest, StreamNameIsFreedWhenProducerLeavesOrStops)
{
  std::string first = producer ("cam");
  hub.remove_peer (first);
  std::string second = producer ("cam");  // no error

  // Dropping the producer role frees the name too.
  send (second, { { "type", "setPeerStatus" }, { "roles", { "listener" } },
      { "meta", { { "name", "cam" } } } });
  producer ("cam");
}

TEST_F (HubTest, ProducersWithoutNameAreAllowed)
{
  std::string a = producer ();
  std::string b = producer ();
  std::string c = join ();
  auto list = only<p::ListReply> (send (c, { { "type", "list" } }), c);
  EXPECT_EQ (list.producers.size (), 2u);
}

TEST_F (HubTest, ListShowsProducersWithMeta)
{
  std::string a = producer ("cam");
  std::string b = producer ();
  std::string l = listener ();
  std::string c = join ();
  send (c, { { "type", "setPeerStatus" }, { "roles", { "consumer" } },
      { "meta", { { "who", "viewer" } } } });

  auto list = only<p::ListReply> (send (c, { { "type", "list" } }), c);
  ASSERT_EQ (list.producers.size (), 2u);
  std::map<std::string, json> by_id;
  for (const auto &info : list.producers)
    by_id[info.id] = info.meta;
  EXPECT_EQ (by_id.at (a), (json { { "name", "cam" } }));
  EXPECT_TRUE (by_id.at (b).is_null ());

  auto consumers = only<p::ListConsumersReply> (send (l, { { "type", "listConsumers" } }), l);
  ASSERT_EQ (consumers.consumers.size (), 1u);
  EXPECT_EQ (consumers.consumers[0].id, c);
  EXPECT_EQ (consumers.consumers[0].meta, (json { { "who", "viewer" } }));
}

TEST_F (HubTest, SessionRelayBothWays)
{
  std::string prod = producer ("cam");
  std::string cons = join ();
  std::string sid = start (cons, prod);
  EXPECT_EQ (hub.session_count (), 1u);

  // Producer offers, consumer answers, both trickle ICE.
  auto out = send (prod, sdp (sid, "offer"));
  auto offer = only<p::Peer> (out, cons);
  EXPECT_EQ (offer.session_id, sid);
  EXPECT_EQ (std::get<p::Sdp> (offer.body).sdp, "v=0 offer");

  auto answer = only<p::Peer> (send (cons, sdp (sid, "answer")), prod);
  EXPECT_EQ (std::get<p::Sdp> (answer.body).type, "answer");

  auto c1 = only<p::Peer> (send (prod, ice (sid)), cons);
  EXPECT_EQ (std::get<p::Ice> (c1.body).sdp_m_line_index, 1u);
  only<p::Peer> (send (cons, ice (sid)), prod);
}

TEST_F (HubTest, ConsumerOfferTravelsInStartSession)
{
  std::string prod = producer ();
  std::string cons = join ();
  std::string sid = start (cons, prod, "v=0 consumer offer");
  // The producer answers it.
  only<p::Peer> (send (prod, sdp (sid, "answer")), cons);
}

TEST_F (HubTest, OfferFromConsumerIsNotAllowed)
{
  std::string prod = producer ();
  std::string cons = join ();
  std::string sid = start (cons, prod);
  EXPECT_EQ (error_code (send (cons, sdp (sid, "offer")), cons), ErrorCode::NotAllowed);
  // The session still works.
  only<p::Peer> (send (prod, sdp (sid, "offer")), cons);
}

TEST_F (HubTest, ManySessionsPerConnection)
{
  std::string prod = producer ("stage");
  std::string c1 = join ();
  std::string c2 = join ();
  std::string s1 = start (c1, prod);
  std::string s2 = start (c2, prod);
  std::string s3 = start (c1, prod);  // a second session of the same consumer
  EXPECT_NE (s1, s2);
  EXPECT_NE (s1, s3);
  EXPECT_EQ (hub.session_count (prod), 3u);
  EXPECT_EQ (hub.session_count (c1), 2u);

  // Messages go to the right session's other peer.
  EXPECT_EQ (only<p::Peer> (send (prod, sdp (s2, "offer")), c2).session_id, s2);
  EXPECT_EQ (only<p::Peer> (send (prod, sdp (s3, "offer")), c1).session_id, s3);

  // One consumer session per producer is also fine from a consumer with many producers.
  std::string prod2 = producer ("other");
  std::string s4 = start (c1, prod2);
  EXPECT_EQ (hub.session_count (c1), 3u);
  EXPECT_EQ (only<p::Peer> (send (c1, sdp (s4, "answer")), prod2).session_id, s4);
}

TEST_F (HubTest, PassiveConsumerSessionStartedByProducer)
{
  std::string prod = producer ();
  std::string cons = join ();
  send (cons, { { "type", "setPeerStatus" }, { "roles", { "consumer" } } });
  auto out = send (prod, { { "type", "startSession" }, { "peerId", cons } });
  ASSERT_EQ (out.size (), 2u) << dump (out);
  auto started = to_peer<p::SessionStarted> (out, cons);
  auto request = to_peer<p::StartSession> (out, prod);
  EXPECT_EQ (started.peer_id, prod);
  EXPECT_EQ (request.peer_id, cons);

  // Only a producer may start a session with a consumer.
  std::string stranger = join ();
  EXPECT_EQ (error_code (send (stranger, { { "type", "startSession" }, { "peerId", cons } }),
      stranger), ErrorCode::NotAllowed);
}

TEST_F (HubTest, StartSessionErrors)
{
  std::string prod = producer ();
  std::string cons = join ();
  std::string plain = join ();
  EXPECT_EQ (error_code (send (cons, { { "type", "startSession" }, { "peerId", "nobody" } }),
      cons), ErrorCode::UnknownPeer);
  EXPECT_EQ (error_code (send (cons, { { "type", "startSession" }, { "peerId", plain } }),
      cons), ErrorCode::NotProducer);
  EXPECT_EQ (error_code (send (prod, { { "type", "startSession" }, { "peerId", prod } }),
      prod), ErrorCode::NotAllowed);
  EXPECT_EQ (hub.session_count (), 0u);
}

TEST_F (HubTest, PeerMessagesOutsideTheSessionAreRefused)
{
  std::string prod = producer ();
  std::string cons = join ();
  std::string intruder = join ();
  std::string sid = start (cons, prod);
  EXPECT_EQ (error_code (send (intruder, ice (sid)), intruder), ErrorCode::UnknownSession);
  EXPECT_EQ (error_code (send (intruder, sdp (sid, "answer")), intruder),
      ErrorCode::UnknownSession);
  EXPECT_EQ (error_code (send (cons, ice ("no-such-session")), cons), ErrorCode::UnknownSession);
  EXPECT_EQ (error_code (send (intruder, { { "type", "endSession" }, { "sessionId", sid } }),
      intruder), ErrorCode::UnknownSession);
  EXPECT_EQ (hub.session_count (), 1u);
}

TEST_F (HubTest, EndSessionFromEitherSide)
{
  std::string prod = producer ();
  std::string cons = join ();
  std::string s1 = start (cons, prod);
  std::string s2 = start (cons, prod);

  auto out = send (cons, { { "type", "endSession" }, { "sessionId", s1 } });
  EXPECT_EQ (only<p::EndSession> (out, prod).session_id, s1);
  out = send (prod, { { "type", "endSession" }, { "sessionId", s2 } });
  EXPECT_EQ (only<p::EndSession> (out, cons).session_id, s2);
  EXPECT_EQ (hub.session_count (), 0u);
  EXPECT_EQ (hub.session_count (prod), 0u);

  // Ended means gone.
  EXPECT_EQ (error_code (send (prod, sdp (s1, "offer")), prod), ErrorCode::UnknownSession);
  EXPECT_EQ (error_code (send (cons, { { "type", "endSession" }, { "sessionId", s1 } }), cons),
      ErrorCode::UnknownSession);
}

// After a restart the server knows no session: both sides reconnect and
// claim the sessions that went on peer to peer (resumeSession), which then
// relay as any other.
TEST_F (HubTest, ResumedSessionRelaysOnceBothSidesClaimIt)
{
  const std::string sid = "0f5e2c1a-3b4d-4e6f-8a9b-1c2d3e4f5a6b";
  std::string prod = producer ("cam");
  std::string cons = join ();
  auto resume = [] (const std::string &id, const char *as) {
    return json { { "type", "resumeSession" }, { "sessionId", id }, { "as", as } };
  };
  EXPECT_TRUE (send (prod, resume (sid, "producer")).empty ());
  EXPECT_EQ (hub.session_count (prod), 1u);
  // The other side is not back yet: its messages go nowhere, and no error.
  EXPECT_TRUE (send (prod, ice (sid)).empty ());
  EXPECT_TRUE (send (cons, resume (sid, "consumer")).empty ());
  EXPECT_TRUE (send (cons, resume (sid, "consumer")).empty ());  // again: nothing changes
  EXPECT_EQ (hub.session_count (), 1u);

  only<p::Peer> (send (prod, sdp (sid, "offer")), cons);
  only<p::Peer> (send (cons, ice (sid)), prod);
  EXPECT_EQ (only_session_end (send (prod, { { "type", "endSession" }, { "sessionId", sid } }),
      cons), sid);
  EXPECT_EQ (hub.session_count (), 0u);
}

TEST_F (HubTest, ResumeSessionRefusals)
{
  const std::string sid = "7a1c2e3f-0000-4000-8000-000000000001";
  std::string prod = producer ("cam");
  std::string cons = join ();
  std::string other = join ();
  auto resume = [] (const std::string &id, const char *as) {
    return json { { "type", "resumeSession" }, { "sessionId", id }, { "as", as } };
  };
  // Only a producer resumes as producer.
  EXPECT_EQ (error_code (send (cons, resume (sid, "producer")), cons), ErrorCode::NotAllowed);
  EXPECT_TRUE (send (cons, resume (sid, "consumer")).empty ());
  // A side that is held cannot be taken, nor both sides by one peer.
  EXPECT_EQ (error_code (send (other, resume (sid, "consumer")), other), ErrorCode::NotAllowed);
  EXPECT_TRUE (send (prod, resume (sid, "producer")).empty ());
  std::string prod2 = producer ("cam2");
  EXPECT_EQ (error_code (send (prod2, resume (sid, "producer")), prod2), ErrorCode::NotAllowed);
  // A session started by the server is not open for resuming either.
  std::string started = start (cons, prod);
  EXPECT_EQ (error_code (send (other, resume (started, "consumer")), other),
      ErrorCode::NotAllowed);
  // A half-resumed session ends with its side's peer.
  std::string half = "7a1c2e3f-0000-4000-8000-000000000002";
  EXPECT_TRUE (send (other, resume (half, "consumer")).empty ());
  EXPECT_TRUE (hub.remove_peer (other).empty ());
  EXPECT_EQ (hub.session_count (), 2u);
}

// A producer whose connection is lost (not closed) keeps its sessions for
// the resume grace: its viewers are not told, and once it is back under a new
// id it claims them; those it does not claim end when the grace runs out.
TEST_F (HubTest, LostProducersSessionsWaitForItWithinTheGrace)
{
  hub.set_resume_grace_us (5000000);
  std::string prod = producer ("cam");
  std::string cons = join ();
  std::string kept = start (cons, prod);
  std::string dropped = start (cons, prod);
  auto out = hub.remove_peer (prod, true, 1000000);
  for (const Outgoing &o : out)
    EXPECT_NE (o.peer_id, cons) << "the viewer was told: " << o.text;
  EXPECT_EQ (hub.session_count (cons), 2u);
  EXPECT_FALSE (hub.has_stream ("cam"));
  // Its messages for the producer go nowhere meanwhile, without an error.
  EXPECT_TRUE (send (cons, ice (kept)).empty ());

  std::string back = producer ("cam");
  EXPECT_TRUE (send (back, { { "type", "resumeSession" }, { "sessionId", kept },
      { "as", "producer" } }).empty ());
  only<p::Peer> (send (back, sdp (kept, "offer")), cons);
  EXPECT_TRUE (hub.expire_unclaimed (5999999).empty ());
  EXPECT_EQ (only_session_end (hub.expire_unclaimed (6000000), cons), dropped);
  EXPECT_EQ (hub.session_count (cons), 1u);
  EXPECT_TRUE (hub.expire_unclaimed (60000000).empty ());  // the claimed one stays
  EXPECT_EQ (only_session_end (send (back, { { "type", "endSession" }, { "sessionId", kept } }),
      cons), kept);
}

// A producer that closes its connection (or with no grace set) ends its
// sessions at once, as always; a lost consumer too.
TEST_F (HubTest, ClosedOrConsumerSessionsEndAtOnce)
{
  hub.set_resume_grace_us (5000000);
  std::string prod = producer ("cam");
  std::string cons = join ();
  std::string sid = start (cons, prod);
  EXPECT_EQ (only_session_end (hub.remove_peer (cons, true, 1), prod), sid);
  std::string cons2 = join ();
  sid = start (cons2, prod);
  EXPECT_EQ (only_session_end (hub.remove_peer (prod, false, 1), cons2), sid);
}

TEST_F (HubTest, LeavingPeerEndsSessionsAndNotifiesListeners)
{
  std::string l = listener ();
  std::string prod = producer ("cam");
  std::string c1 = join ();
  std::string c2 = join ();
  std::string s1 = start (c1, prod);
  std::string s2 = start (c2, prod);

  auto out = hub.remove_peer (prod);
  EXPECT_EQ (only_session_end (out, c1), s1);
  EXPECT_EQ (only_session_end (out, c2), s2);
  auto left = to_peer<p::PeerStatusChanged> (out, l);
  EXPECT_EQ (left.peer_id, prod);
  EXPECT_TRUE (left.roles.empty ());
  EXPECT_EQ (left.meta, (json { { "name", "cam" } }));
  EXPECT_EQ (out.size (), 3u) << dump (out);
  EXPECT_EQ (hub.session_count (), 0u);
  EXPECT_EQ (hub.session_count (c1), 0u);
  EXPECT_FALSE (hub.has_peer (prod));
  EXPECT_TRUE (hub.remove_peer (prod).empty ());  // twice is harmless
}

TEST_F (HubTest, LeavingConsumerEndsItsSessionsOnly)
{
  std::string prod = producer ();
  std::string c1 = join ();
  std::string c2 = join ();
  start (c1, prod);
  std::string s2 = start (c2, prod);
  auto out = hub.remove_peer (c1);
  ASSERT_EQ (out.size (), 1u) << dump (out);
  EXPECT_EQ (out[0].peer_id, prod);
  EXPECT_EQ (hub.session_count (), 1u);
  only<p::Peer> (send (prod, sdp (s2, "offer")), c2);
}

TEST_F (HubTest, PeerWithoutStatusLeavesQuietly)
{
  listener ();
  std::string quiet = join ();
  EXPECT_TRUE (hub.remove_peer (quiet).empty ());
}

TEST_F (HubTest, ProducerDroppingRoleEndsItsSessions)
{
  std::string prod = producer ("cam");
  std::string cons = join ();
  std::string sid = start (cons, prod);
  auto out = send (prod, { { "type", "setPeerStatus" }, { "roles", json::array () } });
  EXPECT_EQ (only_session_end (out, cons), sid);
  EXPECT_EQ (hub.session_count (), 0u);
}

TEST_F (HubTest, ProducerAndConsumerAtOnceIsNotAllowed)
{
  std::string id = join ();
  EXPECT_EQ (error_code (send (id, { { "type", "setPeerStatus" },
      { "roles", { "producer", "consumer" } } }), id), ErrorCode::NotAllowed);
}

TEST_F (HubTest, BadMessagesGetErrorsAndChangeNothing)
{
  std::string l = listener ();
  std::string prod = producer ("cam");
  std::string cons = join ();
  std::string sid = start (cons, prod);
  struct Case {
    std::string text;
    ErrorCode code;
  };
  for (const Case &c : std::initializer_list<Case> {
      { "not json", ErrorCode::InvalidMessage },
      { "[1,2]", ErrorCode::InvalidMessage },
      { R"({"type":"hello"})", ErrorCode::UnknownType },
      { R"({"type":"startSession","peerId":5})", ErrorCode::InvalidMessage },
      { R"({"type":"startSession"})", ErrorCode::InvalidMessage },
      { R"({"type":"startSession","peerId":""})", ErrorCode::InvalidMessage },
      { R"({"type":"setPeerStatus","roles":["boss"]})", ErrorCode::InvalidMessage },
      { R"({"type":"peer","sessionId":")" + sid + R"(","sdp":{"type":"pranswer","sdp":""}})",
        ErrorCode::InvalidMessage },
      { R"({"type":"endSession","sessionId":"nope"})", ErrorCode::UnknownSession },
      { std::string (300 * 1024, ' '), ErrorCode::TooLarge },
    }) {
    auto out = hub.handle (cons, c.text);
    EXPECT_EQ (error_code (out, cons), c.code) << c.text.substr (0, 80);
  }
  EXPECT_EQ (hub.session_count (), 1u);
  EXPECT_EQ (hub.peer_count (), 3u);
  only<p::Peer> (send (prod, sdp (sid, "offer")), cons);
}

TEST_F (HubTest, MessagesFromUnknownConnection)
{
  EXPECT_EQ (error_code (hub.handle ("ghost", R"({"type":"list"})"), "ghost"),
      ErrorCode::UnknownPeer);
}

TEST_F (HubTest, ProtocolVersion)
{
  std::string a = join ();
  EXPECT_TRUE (send (a, { { "type", "setProtocolVersion" }, { "version", "1.0" } }).empty ());
  // Only as the first message.
  send (a, { { "type", "list" } });
  EXPECT_EQ (error_code (send (a, { { "type", "setProtocolVersion" }, { "version", "1.0" } }), a),
      ErrorCode::NotAllowed);
  std::string b = join ();
  EXPECT_EQ (error_code (send (b, { { "type", "setProtocolVersion" }, { "version", "2.0" } }), b),
      ErrorCode::InvalidMessage);
}

TEST_F (HubTest, RejectIsAnErrorToTheSenderOnly)
{
  std::string a = join ();
  auto out = hub.reject (a, ErrorCode::InvalidMessage, "Binary frames are not supported.");
  EXPECT_EQ (only<p::Error> (out, a).details, "Binary frames are not supported.");
}

TEST_F (HubLimitsTest, MaxPeers)
{
  join ();
  join ();
  std::string third = join ();
  Hub::Admission refused = hub.add_peer ();
  EXPECT_FALSE (refused.accepted ());
  auto err = p::parse_server_message (refused.reply);
  ASSERT_TRUE (err.ok ());
  EXPECT_EQ (std::get<p::Error> (*err.message).code, ErrorCode::LimitReached);
  hub.remove_peer (third);
  EXPECT_TRUE (hub.add_peer ().accepted ());
}

TEST_F (HubLimitsTest, MaxSessionsPerPeer)
{
  std::string prod = producer ();
  std::string c1 = join ();
  std::string c2 = join ();
  start (c1, prod);
  std::string s2 = start (c1, prod);
  // The consumer is at its limit.
  EXPECT_EQ (error_code (send (c1, { { "type", "startSession" }, { "peerId", prod } }), c1),
      ErrorCode::LimitReached);
  // So is the producer, for anybody else.
  EXPECT_EQ (error_code (send (c2, { { "type", "startSession" }, { "peerId", prod } }), c2),
      ErrorCode::LimitReached);
  EXPECT_EQ (hub.session_count (), 2u);
  // Ending one makes room.
  send (c1, { { "type", "endSession" }, { "sessionId", s2 } });
  start (c2, prod);
}

TEST_F (HubLimitsTest, ResumeCountsAgainstMaxSessionsPerPeer)
{
  std::string cons = join ();
  for (const char *sid : { "r1", "r2" })
    EXPECT_TRUE (send (cons, { { "type", "resumeSession" }, { "sessionId", sid },
        { "as", "consumer" } }).empty ());
  EXPECT_EQ (error_code (send (cons, { { "type", "resumeSession" }, { "sessionId", "r3" },
      { "as", "consumer" } }), cons), ErrorCode::LimitReached);
}

TEST_F (HubLimitsTest, MaxMessageSize)
{
  std::string a = join ();
  std::string big = R"({"type":"list","pad":")" + std::string (600, 'x') + "\"}";
  EXPECT_EQ (error_code (hub.handle (a, big), a), ErrorCode::TooLarge);
  EXPECT_TRUE (hub.has_peer (a));
}

// Rooms (our extension): producers with meta.room learn of each other.
class HubRoomTest : public HubTest {
protected:
  std::vector<Outgoing> enter (const std::string &id, const std::string &room,
      const std::string &participant)
  {
    return send (id, { { "type", "setPeerStatus" }, { "roles", { "producer" } },
        { "meta", { { "name", room + ":" + participant }, { "room", room } } } });
  }
};

TEST_F (HubRoomTest, ParticipantsLearnWhoIsInTheRoomAndWhoComesAndGoes)
{
  const std::string a = join (), b = join (), c = join ();
  p::RoomJoined first = only<p::RoomJoined> (enter (a, "meet", "alice"), a);
  EXPECT_EQ (first.room, "meet");
  EXPECT_TRUE (first.participants.empty ());

  auto out = enter (b, "meet", "bob");
  ASSERT_EQ (out.size (), 2u) << dump (out);
  p::RoomJoined second = to_peer<p::RoomJoined> (out, b);
  ASSERT_EQ (second.participants.size (), 1u);
  EXPECT_EQ (second.participants[0].id, a);
  EXPECT_EQ (second.participants[0].meta["name"], "meet:alice");
  p::ParticipantJoined told = to_peer<p::ParticipantJoined> (out, a);
  EXPECT_EQ (told.peer_id, b);
  EXPECT_EQ (told.meta["name"], "meet:bob");

  out = enter (c, "meet", "carol");
  EXPECT_EQ (to_peer<p::RoomJoined> (out, c).participants.size (), 2u);
  to_peer<p::ParticipantJoined> (out, a);
  to_peer<p::ParticipantJoined> (out, b);
  EXPECT_EQ (hub.room_size ("meet"), 3u);

  // Another room is another world.
  const std::string d = join ();
  EXPECT_TRUE (only<p::RoomJoined> (enter (d, "other", "dave"), d).participants.empty ());

  // Leaving: by disconnecting, or by no longer producing.
  out = hub.remove_peer (b);
  EXPECT_EQ (to_peer<p::ParticipantLeft> (out, a).peer_id, b);
  EXPECT_EQ (to_peer<p::ParticipantLeft> (out, c).meta["name"], "meet:bob");
  for (const Outgoing &o : out)
    EXPECT_NE (o.peer_id, d) << dump (out);
  out = send (c, { { "type", "setPeerStatus" }, { "roles", { "listener" } } });
  EXPECT_EQ (to_peer<p::ParticipantLeft> (out, a).peer_id, c);
  EXPECT_EQ (hub.room_size ("meet"), 1u);

  // The room goes on: somebody new joins and finds alice.
  const std::string e = join ();
  out = enter (e, "meet", "bob");
  ASSERT_EQ (to_peer<p::RoomJoined> (out, e).participants.size (), 1u);
  EXPECT_EQ (to_peer<p::RoomJoined> (out, e).participants[0].id, a);
  hub.remove_peer (a);
  hub.remove_peer (e);
  EXPECT_EQ (hub.room_size ("meet"), 0u);
}

// A participant whose connection was lost, and whose sessions wait for it
// (resume grace), may come back: the others are told it was lost.
TEST_F (HubRoomTest, LostParticipantIsSaidLost)
{
  hub.set_resume_grace_us (5000000);
  const std::string a = join (), b = join (), c = join ();
  enter (a, "meet", "alice");
  enter (b, "meet", "bob");
  enter (c, "meet", "carol");
  EXPECT_TRUE (to_peer<p::ParticipantLeft> (hub.remove_peer (b, true, 1), a).lost);
  EXPECT_FALSE (to_peer<p::ParticipantLeft> (hub.remove_peer (c, false, 1), a).lost)
      << "a closed connection is gone";
  hub.set_resume_grace_us (0);
  const std::string d = join ();
  enter (d, "meet", "dave");
  EXPECT_FALSE (to_peer<p::ParticipantLeft> (hub.remove_peer (d, true, 1), a).lost)
      << "without a grace, nothing waits for it";
}

TEST_F (HubRoomTest, BadRoomsAreRefusedAndChangeNothing)
{
  const std::string a = join ();
  const auto bad = [&] (const json &meta) {
    auto out = send (a, { { "type", "setPeerStatus" }, { "roles", { "producer" } },
        { "meta", meta } });
    EXPECT_EQ (error_code (out, a), ErrorCode::InvalidMessage) << meta.dump ();
  };
  bad ({ { "name", "meet:alice" }, { "room", "" } });
  bad ({ { "name", "meet:alice" }, { "room", 7 } });
  bad ({ { "name", "a b:alice" }, { "room", "a b" } });
  bad ({ { "name", "alice" }, { "room", "meet" } });
  bad ({ { "name", "other:alice" }, { "room", "meet" } });
  bad ({ { "name", "meet:" }, { "room", "meet" } });
  bad ({ { "name", "meet:al:ice" }, { "room", "meet" } });
  bad ({ { "room", "meet" } });
  EXPECT_FALSE (hub.has_stream ("meet:alice"));
  EXPECT_EQ (hub.room_size ("meet"), 0u);

  // The same name twice: the second is refused before it enters.
  enter (a, "meet", "alice");
  const std::string b = join ();
  EXPECT_EQ (error_code (enter (b, "meet", "alice"), b), ErrorCode::NameTaken);
  EXPECT_EQ (hub.room_size ("meet"), 1u);
  // meta.room on a peer that does not produce is no room membership.
  auto out = send (b, { { "type", "setPeerStatus" }, { "roles", { "listener" } },
      { "meta", { { "room", "meet" } } } });
  for (const Outgoing &o : out)
    EXPECT_EQ (o.peer_id, b) << dump (out);
  EXPECT_EQ (hub.room_size ("meet"), 1u);
}

// What the server's logs and WHIP/WHEP paths make of names from the network.
TEST (HubText, LogSafeShowsHiddenCharacters)
{
  using rtcstream::signalling::log_safe;
  EXPECT_EQ (log_safe ("cam"), "cam");
  EXPECT_EQ (log_safe ("caf\xC3\xA9"), "caf\xC3\xA9");  // printable UTF-8 stays
  EXPECT_EQ (log_safe ("ab\xE2\x80\xAE" "cd"), "ab\\u{202E}cd");  // right-to-left override
  EXPECT_EQ (log_safe ("a\nb\x1b[31m"), "a\\u{000A}b\\u{001B}[31m");
  EXPECT_EQ (log_safe ("\xff"), "\\xFF");
  EXPECT_EQ (log_safe ("a\\u{202E}"), "a\\\\u{202E}");  // an escape cannot be faked
  EXPECT_EQ (log_safe (std::string (300, 'x')), std::string (160, 'x') + "...");
}

TEST (HubText, StreamNames)
{
  using rtcstream::signalling::stream_name_problem;
  for (const char *good : { "cam", "%2e%2e", "a.b", "...", "caf\xC3\xA9", "studio 1" })
    EXPECT_EQ (stream_name_problem (good), "") << good;
  for (const std::string &bad : std::vector<std::string>{ "", ".", "..", "a/b", "a\\b", "a\x01", "ab\xE2\x80\xAE",
           "\xE2\x81\xA6x", "a\xE2\x80\x8B", std::string ("a\0b", 3), "\xff",
           std::string (129, 'n') })
    EXPECT_NE (stream_name_problem (bad), "") << bad;
}
