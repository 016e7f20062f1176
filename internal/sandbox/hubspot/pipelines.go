package hubspot

import (
	"net/http"
	"time"
)

// defaultPipelineID is the id of HubSpot's default deal pipeline.
const defaultPipelineID = "default"

// Deal stage ids of the default pipeline.
const (
	StageAppointmentScheduled  = "appointmentscheduled"
	StageQualifiedToBuy        = "qualifiedtobuy"
	StagePresentationScheduled = "presentationscheduled"
	StageDecisionMakerBoughtIn = "decisionmakerboughtin"
	StageContractSent          = "contractsent"
	StageClosedWon             = "closedwon"
	StageClosedLost            = "closedlost"
)

type stageDef struct {
	id, label, probability string
	closed                 bool
}

var defaultStages = []stageDef{
	{StageAppointmentScheduled, "Appointment Scheduled", "0.2", false},
	{StageQualifiedToBuy, "Qualified To Buy", "0.4", false},
	{StagePresentationScheduled, "Presentation Scheduled", "0.6", false},
	{StageDecisionMakerBoughtIn, "Decision Maker Bought-In", "0.8", false},
	{StageContractSent, "Contract Sent", "0.9", false},
	{StageClosedWon, "Closed Won", "1.0", true},
	{StageClosedLost, "Closed Lost", "0.0", true},
}

type pipelineStage struct {
	ID               string            `json:"id"`
	Label            string            `json:"label"`
	DisplayOrder     int               `json:"displayOrder"`
	Metadata         map[string]string `json:"metadata"`
	CreatedAt        time.Time         `json:"createdAt"`
	UpdatedAt        time.Time         `json:"updatedAt"`
	Archived         bool              `json:"archived"`
	WritePermissions string            `json:"writePermissions"`
}

type pipeline struct {
	ID           string          `json:"id"`
	Label        string          `json:"label"`
	DisplayOrder int             `json:"displayOrder"`
	Stages       []pipelineStage `json:"stages"`
	CreatedAt    time.Time       `json:"createdAt"`
	UpdatedAt    time.Time       `json:"updatedAt"`
	Archived     bool            `json:"archived"`
}

// pipelineEpoch is the fixed creation time reported for the default pipeline.
var pipelineEpoch = time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC)

func defaultPipeline() pipeline {
	p := pipeline{ID: defaultPipelineID, Label: "Sales Pipeline", CreatedAt: pipelineEpoch, UpdatedAt: pipelineEpoch}
	for i, st := range defaultStages {
		closed := "false"
		if st.closed {
			closed = "true"
		}
		p.Stages = append(p.Stages, pipelineStage{
			ID: st.id, Label: st.label, DisplayOrder: i,
			Metadata:  map[string]string{"isClosed": closed, "probability": st.probability},
			CreatedAt: pipelineEpoch, UpdatedAt: pipelineEpoch, WritePermissions: "CRUD_PERMITTED",
		})
	}
	return p
}

func pipelineType(w http.ResponseWriter, r *http.Request) bool {
	if t := lookupType(r.PathValue("type")); t == nil || t.name != Deals {
		writeError(w, errNotFound("No pipelines for object type %s in this sandbox (deals only)", r.PathValue("type")))
		return false
	}
	return true
}

func (s *Server) handleListPipelines(w http.ResponseWriter, r *http.Request) {
	if pipelineType(w, r) {
		writeJSON(w, http.StatusOK, map[string]any{"results": []pipeline{defaultPipeline()}})
	}
}

func (s *Server) handleGetPipeline(w http.ResponseWriter, r *http.Request) {
	if !pipelineType(w, r) {
		return
	}
	if r.PathValue("pipelineId") != defaultPipelineID {
		writeError(w, errNotFound("Pipeline %s not found", r.PathValue("pipelineId")))
		return
	}
	writeJSON(w, http.StatusOK, defaultPipeline())
}

func (s *Server) handleListStages(w http.ResponseWriter, r *http.Request) {
	if !pipelineType(w, r) {
		return
	}
	if r.PathValue("pipelineId") != defaultPipelineID {
		writeError(w, errNotFound("Pipeline %s not found", r.PathValue("pipelineId")))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"results": defaultPipeline().Stages})
}
