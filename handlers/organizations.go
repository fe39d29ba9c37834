package handlers

import (
	"net/http"
	"time"

	"github.com/palvelumanuaali/useradmin/internal/kernel"
	"github.com/palvelumanuaali/useradmin/internal/organizations"
)

type orgNameJSON struct {
	FI string `json:"fi"`
	SV string `json:"sv,omitempty"`
	EN string `json:"en,omitempty"`
}

type orgJSON struct {
	ID               string      `json:"id"`
	Name             orgNameJSON `json:"name"`
	Type             string      `json:"type"`
	BusinessID       string      `json:"businessId,omitempty"`
	MunicipalityCode string      `json:"municipalityCode,omitempty"`
	ContactEmail     string      `json:"contactEmail,omitempty"`
	CreatedAt        time.Time   `json:"createdAt"`
}

func toOrgJSON(o organizations.Organization) orgJSON {
	return orgJSON{ID: o.ID, Name: orgNameJSON(o.Name), Type: string(o.Type), BusinessID: o.BusinessID,
		MunicipalityCode: o.MunicipalityCode, ContactEmail: o.ContactEmail, CreatedAt: o.CreatedAt}
}

func writeOrg(w http.ResponseWriter, status int, o organizations.Organization) {
	w.Header().Set("ETag", `"`+kernel.PublicETag(o.ETag)+`"`)
	writeJSON(w, status, toOrgJSON(o))
}

type orgListJSON struct {
	Items      []orgJSON `json:"items"`
	NextCursor string    `json:"nextCursor,omitempty"`
}

func (s *server) handleListOrganizations() http.Handler {
	return withoutBody(s, func(w http.ResponseWriter, r *http.Request) error {
		q := r.URL.Query()
		v := &kernel.ValidationError{}
		knownQuery(v, q, "limit", "cursor")
		limit := queryLimit(v, q)
		if len(v.Fields) > 0 {
			return v
		}
		orgs, next, err := s.orgs.List(r.Context(), principal(r.Context()).Actor, q.Get("cursor"), limit)
		if err != nil {
			return err
		}
		out := orgListJSON{Items: make([]orgJSON, 0, len(orgs)), NextCursor: next}
		for _, o := range orgs {
			out.Items = append(out.Items, toOrgJSON(o))
		}
		writeJSON(w, http.StatusOK, out)
		return nil
	})
}

type createOrgRequest struct {
	Name             orgNameJSON `json:"name"`
	Type             string      `json:"type"`
	BusinessID       string      `json:"businessId"`
	MunicipalityCode string      `json:"municipalityCode"`
	ContactEmail     string      `json:"contactEmail"`
}

func (s *server) handleCreateOrganization() http.Handler {
	return withBody(s, func(w http.ResponseWriter, r *http.Request, req createOrgRequest) error {
		o, err := s.orgs.Create(r.Context(), principal(r.Context()).Actor, organizations.Input{
			Name: organizations.Name(req.Name), Type: organizations.Type(req.Type), BusinessID: req.BusinessID,
			MunicipalityCode: req.MunicipalityCode, ContactEmail: req.ContactEmail,
		}, meta(r))
		if err != nil {
			return err
		}
		w.Header().Set("Location", "/api/organizations/"+o.ID)
		writeOrg(w, http.StatusCreated, o)
		return nil
	})
}

func (s *server) handleGetOrganization() http.Handler {
	return withoutBody(s, func(w http.ResponseWriter, r *http.Request) error {
		o, err := s.orgs.Get(r.Context(), principal(r.Context()).Actor, pathID(r))
		if err == nil {
			writeOrg(w, http.StatusOK, o)
		}
		return err
	})
}

type patchOrgRequest struct {
	Name             *orgNameJSON `json:"name"`
	BusinessID       *string      `json:"businessId"`
	MunicipalityCode *string      `json:"municipalityCode"`
	ContactEmail     *string      `json:"contactEmail"`
}

func (s *server) handlePatchOrganization() http.Handler {
	return withBody(s, func(w http.ResponseWriter, r *http.Request, req patchOrgRequest) error {
		p := organizations.Patch{BusinessID: req.BusinessID, MunicipalityCode: req.MunicipalityCode, ContactEmail: req.ContactEmail}
		if req.Name != nil {
			n := organizations.Name(*req.Name)
			p.Name = &n
		}
		o, err := s.orgs.Update(r.Context(), principal(r.Context()).Actor, pathID(r), p, ifMatch(r), meta(r))
		if err == nil {
			writeOrg(w, http.StatusOK, o)
		}
		return err
	})
}

func (s *server) handleDeleteOrganization() http.Handler {
	return withoutBody(s, func(w http.ResponseWriter, r *http.Request) error {
		return noContent(w, s.orgs.Delete(r.Context(), principal(r.Context()).Actor, pathID(r), meta(r)))
	})
}
