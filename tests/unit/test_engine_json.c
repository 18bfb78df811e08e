/* Reading the Docker engine's event lines and Swarm task lists
 * (cp_engine_json): what the swarm and docker drivers act on. */
#include "cp_engine_json.h"
#include "lbt.h"

#include <string.h>

static bool event(const char *line, struct cp_engine_event *ev)
{
	return cp_engine_json_event(line, strlen(line), ev);
}

static void test_container_die_names_the_replica_by_label(void)
{
	struct cp_engine_event ev;
	LBT_CHECK(
	    event("{\"Type\":\"container\",\"Action\":\"die\","
	          "\"Actor\":{\"ID\":\"abc\",\"Attributes\":"
	          "{\"name\":\"server2.1.xyz\",\"lb.name\":\"server2\"}}}",
	          &ev));
	LBT_CHECK(!ev.service);
	LBT_CHECK(strcmp(ev.name, "server2") == 0);
	LBT_CHECK(strcmp(ev.id, "abc") == 0);
	/* Without the label (containers of older versions): its name. */
	LBT_CHECK(event("{\"Type\":\"container\",\"Action\":\"die\","
	                "\"Actor\":{\"ID\":\"d\","
	                "\"Attributes\":{\"name\":\"S5\"}}}",
	                &ev));
	LBT_CHECK(strcmp(ev.name, "S5") == 0);
}

static void test_service_remove_is_a_service_event(void)
{
	struct cp_engine_event ev;
	LBT_CHECK(event("{\"Type\":\"service\",\"Action\":\"remove\","
	                "\"Actor\":{\"ID\":\"svc1\",\"Attributes\":"
	                "{\"name\":\"server3\"}}}",
	                &ev));
	LBT_CHECK(ev.service);
	LBT_CHECK(strcmp(ev.name, "server3") == 0);
	LBT_CHECK(strcmp(ev.id, "svc1") == 0);
}

static void test_unusable_events_are_refused(void)
{
	struct cp_engine_event ev;
	char longname[200];
	char line[400];

	LBT_CHECK(!event("", &ev));
	LBT_CHECK(!event("not json", &ev));
	LBT_CHECK(!event("[]", &ev));
	LBT_CHECK(!event("{\"Actor\":{\"ID\":\"a\"}}", &ev));
	/* Only a container's death or a service's removal. */
	LBT_CHECK(!event("{\"Type\":\"container\",\"Action\":\"start\","
	                 "\"Actor\":{\"ID\":\"a\",\"Attributes\":"
	                 "{\"name\":\"x\"}}}",
	                 &ev));
	LBT_CHECK(!event("{\"Type\":\"service\",\"Action\":\"die\","
	                 "\"Actor\":{\"ID\":\"a\",\"Attributes\":"
	                 "{\"name\":\"x\"}}}",
	                 &ev));
	LBT_CHECK(
	    !event("{\"Action\":\"die\",\"Actor\":{\"ID\":7,\"Attributes\":"
	           "{\"name\":\"x\"}}}",
	           &ev));
	LBT_CHECK(
	    !event("{\"Action\":\"die\",\"Actor\":{\"ID\":\"\",\"Attributes\":"
	           "{\"name\":\"x\"}}}",
	           &ev));
	/* A name too long for a replica is not cut into another's. */
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	snprintf(line, sizeof(line),
	         "{\"Action\":\"die\",\"Actor\":{\"ID\":\"a\","
	         "\"Attributes\":{\"name\":\"%s\"}}}",
	         longname);
	LBT_CHECK(!event(line, &ev));
}

static const char TASKS[] =
    "[{\"ServiceID\":\"s1\",\"Version\":{\"Index\":10},"
    "\"Status\":{\"State\":\"shutdown\",\"ContainerStatus\":"
    "{\"ContainerID\":\"old\"}}},"
    "{\"ServiceID\":\"s1\",\"Version\":{\"Index\":12},"
    "\"Status\":{\"State\":\"running\",\"Err\":\"\",\"ContainerStatus\":"
    "{\"ContainerID\":\"new\"}},"
    "\"NetworksAttachments\":["
    "{\"Network\":{\"Spec\":{\"Name\":\"ingress\"}},"
    "\"Addresses\":[\"10.0.0.9/24\"]},"
    "{\"Network\":{\"Spec\":{\"Name\":\"net1\"}},"
    "\"Addresses\":[\"10.0.1.5/24\"]}]}]";

static void test_newest_task_and_its_address_on_our_network(void)
{
	struct cp_swarm_task t;
	cJSON *j = cJSON_Parse(TASKS);

	LBT_CHECK(cp_engine_json_task(j, "net1", &t));
	LBT_CHECK(strcmp(t.state, "running") == 0);
	LBT_CHECK(strcmp(t.container, "new") == 0);
	LBT_CHECK(strcmp(t.service, "s1") == 0);
	LBT_CHECK(strcmp(t.ip, "10.0.1.5") == 0);
	LBT_CHECK(cp_engine_json_task(j, "other", &t));
	LBT_CHECK(t.ip[0] == '\0');
	cJSON_Delete(j);
}

static void test_no_task_yet(void)
{
	struct cp_swarm_task t;
	cJSON *j = cJSON_Parse("[]");

	LBT_CHECK(!cp_engine_json_task(j, "net1", &t));
	LBT_CHECK(t.state[0] == '\0');
	LBT_CHECK(!cp_engine_json_task(NULL, "net1", &t));
	cJSON_Delete(j);
	j = cJSON_Parse("{\"message\":\"no\"}");
	LBT_CHECK(!cp_engine_json_task(j, "net1", &t));
	cJSON_Delete(j);
}

static void test_rejected_task_keeps_swarms_reason(void)
{
	struct cp_swarm_task t;
	cJSON *j = cJSON_Parse(
	    "[{\"Status\":{\"State\":\"rejected\",\"Err\":\"No such image: "
	    "lb-no-such-image:none\"}}]");

	LBT_CHECK(cp_engine_json_task(j, "net1", &t));
	LBT_CHECK(strcmp(t.state, "rejected") == 0);
	LBT_CHECK(strstr(t.error, "No such image") != NULL);
	LBT_CHECK(t.container[0] == '\0' && t.ip[0] == '\0');
	cJSON_Delete(j);
}

static const struct lbt_case cases[] = {
    {"container_die_names_the_replica_by_label",
     test_container_die_names_the_replica_by_label},
    {"service_remove_is_a_service_event",
     test_service_remove_is_a_service_event},
    {"unusable_events_are_refused", test_unusable_events_are_refused},
    {"newest_task_and_its_address_on_our_network",
     test_newest_task_and_its_address_on_our_network},
    {"no_task_yet", test_no_task_yet},
    {"rejected_task_keeps_swarms_reason",
     test_rejected_task_keeps_swarms_reason},
};

LBT_MAIN(cases)
